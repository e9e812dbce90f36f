use super::*;

#[test]
fn full_file() {
    let c = Config::parse(
        r#"
        [server]
        port = 9000
        engine = "wasmi"
        server_name = ""
        shutdown_timeout = 2.5
        [plugins]
        dir = "p"
        load = ["auth", "users"]
        [limits]
        max_body_size = 4096
        plugin_timeout = 0.25
        [plugin.auth]
        secret = "s"
        n = 3
        list = ["a", 1]
        nested = { on = true }
        "#,
        Path::new("/etc/berth"),
    )
    .unwrap();
    assert_eq!(
        (c.port, c.engine, c.server_name.clone()),
        (9000, EngineKind::Wasmi, None)
    );
    assert_eq!(c.shutdown_timeout, std::time::Duration::from_millis(2500));
    assert_eq!(c.plugins_dir, PathBuf::from("/etc/berth/p"));
    assert_eq!(
        c.load.as_deref(),
        Some(&["auth".to_string(), "users".to_string()][..])
    );
    assert_eq!(
        (c.limits.max_body_size, c.limits.plugin_timeout_ms),
        (4096, 250)
    );
    let pairs = c.plugin_pairs("auth");
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("secret"), Some("s"));
    assert_eq!(get("n"), Some("3"));
    assert_eq!(get("list"), Some(r#"["a",1]"#));
    assert_eq!(get("nested"), Some(r#"{"on":true}"#));
}

#[test]
fn allow_lists_are_absent_unless_given() {
    let c = Config::parse("", Path::new(".")).unwrap();
    assert_eq!(c.allow, AllowLists::default());
    let c = Config::parse(
        "[server]\nallowed_hosts = [\"a.test\"]\nallowed_origins = []\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.allow.hosts, Some(vec!["a.test".to_string()]));
    // An empty list allows no origin at all: it is not the same as no list.
    assert_eq!(c.allow.origins, Some(vec![]));
    assert!(Config::parse("[server]\nallowed_hosts = \"a.test\"\n", Path::new(".")).is_err());
}

#[test]
fn host_bounds_parse() {
    let c = Config::parse(
        "[limits]\nstate_max_keys = 7\nstate_max_bytes = 8\nstate_max_value = 9\n\
         sse_max_topics = 10\nsse_replay_bytes = 11\nmax_timers = 12\n\
         timer_min_interval = 0.25\n",
        Path::new("."),
    )
    .unwrap();
    let l = c.limits;
    assert_eq!(
        (l.state_max_keys, l.state_max_bytes, l.state_max_value),
        (7, 8, 9)
    );
    assert_eq!((l.sse_max_topics, l.sse_replay_bytes), (10, 11));
    assert_eq!((l.max_timers, l.timer_min_interval_ms), (12, 250));
    let sse = c.sse.settings(&l);
    assert_eq!((sse.max_topics, sse.replay_bytes), (10, 11));
}

#[test]
fn typos_are_errors() {
    let err = Config::parse("[limits]\nmax_body = 1\n", Path::new(".")).unwrap_err();
    assert!(err.contains("max_body"), "{err}");
    assert!(Config::parse("[server]\nengine = \"v8\"\n", Path::new(".")).is_err());
}

#[test]
fn plugin_files_follow_load_then_file_names() {
    let dir = std::env::temp_dir().join(format!("berth-config-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["b.wasm", "a.wasm", "notes.txt"] {
        std::fs::write(dir.join(f), b"").unwrap();
    }
    let mut c = Config {
        plugins_dir: dir.clone(),
        ..Config::default()
    };
    let names = |c: &Config| -> Vec<String> {
        c.plugin_files()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    assert_eq!(names(&c), ["a", "b"]);
    c.load = Some(vec!["b".into(), "a".into()]);
    assert_eq!(names(&c), ["b", "a"]);
    c.load = Some(vec!["c".into()]);
    let err = c.plugin_files().unwrap_err();
    assert!(
        matches!(err, PluginFilesError::Missing { ref name, .. } if name == "c"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    c.load = None;
    assert!(matches!(
        c.plugin_files(),
        Err(PluginFilesError::Dir { .. })
    ));
}

#[test]
fn admin_token_and_upload_limit() {
    let c = Config::parse("", Path::new("/")).unwrap();
    assert_eq!(c.admin.token, None);
    assert_eq!(c.admin.max_upload, crate::admin::DEFAULT_MAX_UPLOAD);
    let c = Config::parse(
        "[admin]\ntoken = \"t0ken\"\nmax_upload = 300000\n",
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(
        (c.admin.token.as_deref(), c.admin.max_upload, c.admin.listen),
        (Some("t0ken"), 300_000, None)
    );
    assert!(Config::parse("[admin]\ntokn = \"x\"\n", Path::new("/")).is_err());
}
