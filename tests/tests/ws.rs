//! WebSockets as users meet them: seed 002's routes on the HTTP port, seed 000's hooks on
//! the dedicated port, rooms, broadcasts, per-connection data, and plugins that fail —
//! driven by tokio-tungstenite, Python's `websockets` and headless Chromium.

mod ws_support;

use berth_tests::{example, python, Runtime, TestServer};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use ws_support::*;

fn seed002_full(rt: Runtime) -> &'static TestServer {
    rt.shared("seed002-full", || example("seed002-full", rt))
}

fn seed000_chat(rt: Runtime) -> &'static TestServer {
    rt.shared("seed000-chat", || example("seed000-chat", rt))
}

/// Where seed 000's chat hooks are reached: any path of the dedicated port on the
/// server, the chat plugin's `/chat/ws` route on the embedded runtime (one port).
fn chat_url(server: &TestServer) -> String {
    match server.ws_addr {
        Some(_) => server.ws_port_url("/"),
        None => server.ws_url("/chat/ws"),
    }
}

fn seed000_full(rt: Runtime) -> &'static TestServer {
    rt.shared("seed000-full", || example("seed000-full", rt))
}

fn misbehave(rt: Runtime) -> &'static TestServer {
    rt.shared("misbehave", || {
        berth_tests::config(
            "[plugins]\nload = [\"misbehave\"]\n[limits]\nplugin_timeout = 0.2\n",
            rt,
        )
    })
}

berth_tests::per_runtime!(
    seed002_ws_greets_echoes_and_closes_on_bye,
    seed002_ws_echo_welcomes_then_echoes,
    seed002_binary_inverts_every_byte,
    seed002_chat_broadcasts_to_everyone_including_the_sender,
    a_plain_get_on_a_websocket_route_is_told_to_upgrade,
    fragments_are_joined_and_pings_answered,
    seed000_ping_names_and_default_echo: embedded_skip("the dedicated ws_port's default echo: the embedded runtime has one port"),
    seed000_chat_room_reaches_the_others_in_the_room_only,
    chat_on_its_route_answers_and_never_echoes,
    seed000_full_pongs_with_the_time_and_announces_new_users: embedded_skip("seed 000's hooks need the dedicated ws_port: the embedded runtime has one port"),
    connect_hooks_and_plugins_can_refuse,
    a_failing_message_handler_fails_that_message_only,
    python_websockets_clients_see_the_seed_examples: embedded_skip("its chat client needs the dedicated ws_port's default echo: the embedded runtime has one port"),
    chromium_chat_page_talks_to_a_raw_client,
    seed002_full_led_route_behind_its_middleware,
);

fn seed002_ws_greets_echoes_and_closes_on_bye(rt: Runtime) {
    let server = seed002_full(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/ws")).await;
        assert_eq!(recv_text(&mut ws).await, "Connected!");
        send(&mut ws, "hello").await;
        assert_eq!(recv_text(&mut ws).await, "Echo: hello");
        ws.send_binary(vec![1, 2, 3]).await;
        assert_eq!(recv(&mut ws).await, Message::binary(vec![1, 2, 3]));
        send(&mut ws, "bye").await;
        assert_eq!(expect_close(&mut ws).await, (1000, "Normal closure".into()));
    });
}

fn seed002_ws_echo_welcomes_then_echoes(rt: Runtime) {
    let server = seed002_full(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(recv_text(&mut ws).await, "Welcome!");
        for text in ["one", "two", "ünïcödé ✓"] {
            send(&mut ws, text).await;
            assert_eq!(recv_text(&mut ws).await, format!("Echo: {text}"));
        }
    });
}

fn seed002_binary_inverts_every_byte(rt: Runtime) {
    let server = seed002_full(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/ws/binary")).await;
        let data: Vec<u8> = (0..=255).collect();
        ws.send_binary(data.clone()).await;
        let inverted: Vec<u8> = data.iter().map(|b| b ^ 0xFF).collect();
        assert_eq!(recv(&mut ws).await, Message::binary(inverted));
        // Text is ignored: the next binary answer is the next thing to arrive.
        send(&mut ws, "text is ignored").await;
        ws.send_binary(vec![0x0F]).await;
        assert_eq!(recv(&mut ws).await, Message::binary(vec![0xF0]));
    });
}

fn seed002_chat_broadcasts_to_everyone_including_the_sender(rt: Runtime) {
    let server = seed002_full(rt);
    block_on(async {
        let mut a = connect(&server.ws_url("/ws/chat")).await;
        let mut b = connect(&server.ws_url("/ws/chat")).await;
        // b's connect completed after a's: both are in the room before a sends.
        send(&mut a, "hi all").await;
        assert_eq!(recv_text(&mut a).await, "hi all");
        assert_eq!(recv_text(&mut b).await, "hi all");
    });
}

fn a_plain_get_on_a_websocket_route_is_told_to_upgrade(rt: Runtime) {
    let server = seed002_full(rt);
    let response = reqwest::blocking::get(server.url("/ws/echo")).expect("GET");
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["upgrade"], "websocket");
    // A path that is neither kind of route is still a 404.
    let response = reqwest::blocking::get(server.url("/ws/nope")).expect("GET");
    assert_eq!(response.status(), 404);
}

fn fragments_are_joined_and_pings_answered(rt: Runtime) {
    let server = seed002_full(rt);
    block_on(async {
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        let (op, greeting) = raw.read_frame().await.expect("greeting");
        assert_eq!((op, greeting.as_slice()), (0x1, b"Welcome!".as_slice()));
        raw.frame(false, false, 0x1, b"frag").await;
        raw.frame(true, false, 0x9, b"are you there").await; // a ping between fragments
        raw.frame(false, false, 0x0, b"men").await;
        raw.frame(true, false, 0x0, b"ted").await;
        let (op, pong) = raw.read_frame().await.expect("pong");
        assert_eq!((op, pong.as_slice()), (0xA, b"are you there".as_slice()));
        let (op, echo) = raw.read_frame().await.expect("echo");
        assert_eq!((op, echo.as_slice()), (0x1, b"Echo: fragmented".as_slice()));
        // Close handshake: our close frame is answered with the same code.
        raw.frame(true, false, 0x8, &1000u16.to_be_bytes()).await;
        assert_eq!(raw.expect_close().await, 1000);
    });
}

fn seed000_ping_names_and_default_echo(rt: Runtime) {
    let server = seed000_chat(rt);
    block_on(async {
        let mut ws = connect(&server.ws_port_url("/")).await;
        send_json(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"type": "pong"}));
        send_json(&mut ws, json!({"type": "set_name", "name": "alice"})).await;
        assert_eq!(
            recv_json(&mut ws).await,
            json!({"type": "name_set", "name": "alice"})
        );
        // Nobody replies or stops: the message comes back as it was sent.
        send(&mut ws, "{\"type\":\"unknown\", \"n\": 1}").await;
        assert_eq!(recv_text(&mut ws).await, "{\"type\":\"unknown\", \"n\": 1}");
        send(&mut ws, "not json at all").await;
        assert_eq!(recv_text(&mut ws).await, "not json at all");
        ws.send_binary(vec![9, 8, 7]).await;
        assert_eq!(recv(&mut ws).await, Message::binary(vec![9, 8, 7]));
        // Any path on the dedicated port is a WebSocket.
        let mut other = connect(&server.ws_port_url("/any/path?x=1")).await;
        send_json(&mut other, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut other).await, json!({"type": "pong"}));
    });
    let plain = reqwest::blocking::get(format!("http://{}/", server.ws_addr.expect("ws port")))
        .expect("GET");
    assert_eq!(plain.status(), 426);
}

fn seed000_chat_room_reaches_the_others_in_the_room_only(rt: Runtime) {
    let server = seed000_chat(rt);
    block_on(seed000_chat_session(&chat_url(server)));
}

fn chat_on_its_route_answers_and_never_echoes(rt: Runtime) {
    let server = seed000_chat(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/chat/ws")).await;
        send_json(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"type": "pong"}));
        send_json(&mut ws, json!({"type": "set_name", "name": "ada"})).await;
        assert_eq!(
            recv_json(&mut ws).await,
            json!({"type": "name_set", "name": "ada"})
        );
        // On a route there is no default echo: the next message is the pong. JSON
        // nested deeper than the plugin's stack can parse is not JSON to it, and the
        // connection carries on.
        send(&mut ws, "plain words").await;
        let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
        send(&mut ws, &deep).await;
        ws.send_binary(vec![0, 1, 2, 255]).await;
        send_json(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"type": "pong"}));
        close_normally(&mut ws).await;
        assert_eq!(expect_close(&mut ws).await.0, 1000);
    });
}

fn seed000_full_pongs_with_the_time_and_announces_new_users(rt: Runtime) {
    let server = seed000_full(rt);
    block_on(async {
        let mut ws = connect(&server.ws_port_url("/")).await;
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        send_json(&mut ws, json!({"type": "ping"})).await;
        let pong = recv_json(&mut ws).await;
        assert_eq!(pong["type"], "pong");
        let time = pong["time"].as_f64().expect("time is a number");
        assert!(
            (time - before).abs() < 60.0,
            "time {time} is not now ({before})"
        );

        let url = server.url("/api/users");
        let created: serde_json::Value = tokio::task::spawn_blocking(move || {
            let response = reqwest::blocking::Client::new()
                .post(url)
                .header("X-API-Key", "my-secret-key")
                .json(&json!({"name": "Alice"}))
                .send()
                .expect("POST");
            assert_eq!(response.status(), 201);
            response.json().expect("JSON")
        })
        .await
        .expect("POST task");
        let event = recv_json(&mut ws).await;
        assert_eq!(event, json!({"event": "user_created", "user": created}));
        assert_eq!(event["user"]["name"], "Alice");
    });
}

fn connect_hooks_and_plugins_can_refuse(rt: Runtime) {
    let server = misbehave(rt);
    block_on(async {
        assert_eq!(
            refused_status(&server.ws_url("/ws/misbehave?refuse")).await,
            403
        );
        assert_eq!(
            refused_status(&server.ws_url("/ws/misbehave?panic")).await,
            500
        );
        let mut ws = connect(&server.ws_url("/ws/misbehave")).await;
        send(&mut ws, "still fine").await;
        assert_eq!(recv_text(&mut ws).await, "ok: still fine");
    });
}

fn a_failing_message_handler_fails_that_message_only(rt: Runtime) {
    let server = misbehave(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/ws/misbehave")).await;
        for bad in ["panic", "loop"] {
            send(&mut ws, bad).await;
            send(&mut ws, "after").await;
            // The failed message got no answer; the connection and the plugin live on.
            assert_eq!(recv_text(&mut ws).await, "ok: after", "after {bad}");
        }
    });
}

fn python_websockets_clients_see_the_seed_examples(rt: Runtime) {
    let chat = seed000_chat(rt);
    let full = seed002_full(rt);
    let out = python("ws_clients.py", &[&chat.ws_port_url("/"), &full.ws_url("")]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "pong: {'type': 'pong'}",
            "echo: {\"hello\": \"python\"}",
            "joined: {'action': 'joined', 'room': 'py'}",
            "message: {'action': 'message', 'from': 'py-one', 'text': 'from python'}",
            "welcome: Welcome!",
            "echo: Echo: hi",
            "binary: fefdfc",
            "close: 1000 Normal closure",
        ]
    );
}

fn chromium_chat_page_talks_to_a_raw_client(rt: Runtime) {
    let server = seed000_chat(rt);
    let shot = berth_tests::artefacts_dir().join(format!("chat-{rt:?}.png"));
    let out = python(
        "chat_page.py",
        &[
            &server.url("/chat"),
            &chat_url(server),
            &shot.to_string_lossy(),
        ],
    );
    assert!(
        out.contains("browser saw: tester: hello from python"),
        "the page did not show the client's message:\n{out}"
    );
    assert!(
        out.contains(
            "client saw: {'action': 'message', 'from': 'browser', 'text': 'hello from chromium'}"
        ),
        "the client did not get the page's message:\n{out}"
    );
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
}

fn seed002_full_led_route_behind_its_middleware(rt: Runtime) {
    let server = seed002_full(rt);
    let client = reqwest::blocking::Client::new();
    let post = |body: &str| {
        let r = client
            .post(server.url("/led"))
            .body(body.to_string())
            .send()
            .expect("POST /led");
        let cors = r.headers().get("access-control-allow-origin").cloned();
        (r.status().as_u16(), cors, r.text().expect("body"))
    };
    let led = || {
        reqwest::blocking::get(server.url("/led"))
            .expect("GET /led")
            .text()
            .expect("body")
    };
    assert_eq!(post(r#"{"state":"on"}"#).2, r#"{"led":"on"}"#);
    assert_eq!(led(), r#"{"led":"on"}"#);
    for off in [r#"{"state":0}"#, r#"{"state":"off"}"#, r#"{"state":false}"#] {
        assert_eq!(post(off).2, r#"{"led":"off"}"#, "{off}");
    }
    for on in [r#"{"state":1}"#, r#"{"state":true}"#] {
        assert_eq!(post(on).2, r#"{"led":"on"}"#, "{on}");
    }
    let (status, cors, body) = post("{}");
    assert_eq!(status, 400);
    assert_eq!(body, r#"{"error":"Missing 'state' field","code":400}"#);
    assert_eq!(cors.expect("CORS header on errors too"), "*");
    assert_eq!(post("not json").0, 400);
    // app.max_body_size = 4096
    assert_eq!(
        post(&format!(r#"{{"state":"{}"}}"#, "x".repeat(5000))).0,
        413
    );
}

/// `send_binary` without the ceremony.
trait SendBinary {
    async fn send_binary(&mut self, bytes: Vec<u8>);
}

impl SendBinary for Ws {
    async fn send_binary(&mut self, bytes: Vec<u8>) {
        use futures_util::SinkExt;
        self.send(Message::binary(bytes)).await.expect("send");
    }
}
