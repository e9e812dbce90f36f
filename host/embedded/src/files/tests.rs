use super::*;
use alloc::vec;
use berth_core::model::StaticMount;
use core::fmt;

fn folder(dir: &str, paths: &[&str]) -> StaticFolder {
    StaticFolder {
        dir: dir.into(),
        files: paths
            .iter()
            .map(|p| StaticFile {
                path: (*p).into(),
                content_type: "text/plain".into(),
                bytes: p.as_bytes().to_vec(),
            })
            .collect(),
    }
}

fn located(l: Located<'_>) -> Result<String, (u16, String)> {
    match l {
        Located::File(f) => Ok(f.file.path.clone()),
        Located::AddSlash(to) => Err((301, to)),
        Located::Refused(s) => Err((s, String::new())),
    }
}

fn sample() -> StaticFiles {
    let config = StaticConfig {
        folders: vec![
            folder(
                "www",
                &["index.html", "a.txt", "sub/index.html", "sub/b.txt"],
            ),
            folder("data", &["d.json"]),
        ],
        mounts: vec![("/static/".into(), "www".into(), 60)],
        grants: vec![("p".into(), vec!["data".into(), "www".into()])],
        ..StaticConfig::default()
    };
    let mut reg = Registration::default();
    reg.mounts.push(StaticMount {
        prefix: "/sub".into(),
        dir: "./www/sub".into(),
        max_age: 5,
    });
    reg.mounts.push(StaticMount {
        prefix: "/nope".into(),
        dir: "elsewhere".into(),
        max_age: 5,
    });
    StaticFiles::resolve(config, &[("p", &reg)], &Quiet).unwrap()
}

struct Quiet;

impl Platform for Quiet {
    fn now_ms(&self) -> u64 {
        0
    }
    fn unix_ms(&self) -> u64 {
        0
    }
    fn random_u64(&self) -> u64 {
        4
    }
    fn log(&self, _: &str, _: Level, _: fmt::Arguments<'_>) {}
    async fn sleep_until(&self, _: u64) {}
}

#[test]
fn urls() {
    let s = sample();
    assert_eq!(s.prefixes(), ["/static", "/sub"]);
    assert_eq!(located(s.locate_url("/static/a.txt")), Ok("a.txt".into()));
    assert_eq!(located(s.locate_url("/static/")), Ok("index.html".into()));
    assert_eq!(
        located(s.locate_url("/static")),
        Err((301, "/static/".into()))
    );
    assert_eq!(
        located(s.locate_url("/static/sub")),
        Err((301, "/static/sub/".into()))
    );
    assert_eq!(
        located(s.locate_url("/static/sub/")),
        Ok("sub/index.html".into())
    );
    assert_eq!(located(s.locate_url("/sub/b.txt")), Ok("sub/b.txt".into()));
    assert_eq!(located(s.locate_url("/static/none")), Err((404, "".into())));
    for bad in ["/static/../x", "/static//a.txt", "/static/sub/.."] {
        assert_eq!(located(s.locate_url(bad)), Err((403, "".into())), "{bad}");
    }
    for hidden in ["/static/.env", "/static/.git/config", "/sub/.b.txt"] {
        assert_eq!(
            located(s.locate_url(hidden)),
            Err((404, "".into())),
            "{hidden}"
        );
    }
    assert_eq!(located(s.locate_url("/other")), Err((404, "".into())));
}

#[test]
fn plugin_paths() {
    let s = sample();
    assert_eq!(
        located(s.locate_for_plugin(0, "data/d.json")),
        Ok("d.json".into())
    );
    assert_eq!(
        located(s.locate_for_plugin(0, "./www/sub/b.txt")),
        Ok("sub/b.txt".into())
    );
    assert_eq!(
        located(s.locate_for_plugin(0, "www/x")),
        Err((404, "".into()))
    );
    for bad in ["/etc/passwd", "www/../data/d.json", "c:/x", "other/d.json"] {
        assert_eq!(
            located(s.locate_for_plugin(0, bad)),
            Err((403, "".into())),
            "{bad}"
        );
    }
    // Not filtered, but never packed.
    assert_eq!(
        located(s.locate_for_plugin(0, "www/.env")),
        Err((404, "".into()))
    );
    // A plugin without grants reaches nothing.
    assert_eq!(
        located(s.locate_for_plugin(1, "data/d.json")),
        Err((403, "".into()))
    );
}

#[test]
fn missing_folders_stop_start_up() {
    let mounts = StaticConfig {
        mounts: vec![("/s".into(), "www".into(), 0)],
        ..StaticConfig::default()
    };
    assert!(StaticFiles::resolve(mounts, &[], &Quiet).is_err());
    let grants = StaticConfig {
        grants: vec![("p".into(), vec!["www".into()])],
        ..StaticConfig::default()
    };
    let reg = Registration::default();
    assert!(StaticFiles::resolve(grants, &[("p", &reg)], &Quiet).is_err());
}

#[test]
fn precompressed_siblings_are_linked() {
    let config = StaticConfig {
        folders: vec![folder(
            "www",
            &[
                "a.css", "a.css.br", "a.css.gz", "b.js", "b.js.gz", "c.txt.br",
            ],
        )],
        mounts: vec![("/".into(), "www".into(), 0)],
        ..StaticConfig::default()
    };
    let s = StaticFiles::resolve(config, &[], &Quiet).unwrap();
    let codings = |url: &str| match s.locate_url(url) {
        Located::File(f) => f.precompressed(),
        _ => panic!("{url} not found"),
    };
    assert_eq!(codings("/a.css"), vec![Coding::Br, Coding::Gzip]);
    assert_eq!(codings("/b.js"), vec![Coding::Gzip]);
    // A sibling is a file of its own, with no siblings; an orphan sibling is just a file.
    assert_eq!(codings("/a.css.gz"), vec![]);
    assert_eq!(codings("/c.txt.br"), vec![]);
    match s.locate_url("/a.css") {
        Located::File(f) => {
            assert_eq!(
                f.sibling(Coding::Br).map(|x| x.path.as_str()),
                Some("a.css.br")
            );
        }
        _ => panic!("a.css"),
    }
}
