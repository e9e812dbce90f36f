//! The device host API from outside, on both engines: seed 002's Full Example LED on a
//! granted pin of the server's simulated pin bank, the refusals without a grant (and
//! for a pin the board lacks), and the memory figures behind `/` and `/gc`.

use berth_tests::device::{led_round_trip, memory_figures, request, ungranted_led_is_503};
use berth_tests::{config, example, per_engine, shared, EngineKind, TestServer};

/// seed002-full: the device plugin with `[grants.device] gpio = [2]`.
fn granted(engine: EngineKind) -> &'static TestServer {
    shared(engine, "seed002-full", || example("seed002-full", engine))
}

/// The device plugin without any grant, next to hello.
fn ungranted(engine: EngineKind) -> &'static TestServer {
    shared(engine, "device-ungranted", || {
        config("[plugins]\nload = [\"device\", \"hello\"]\n", engine)
    })
}

per_engine!(
    the_led_drives_the_granted_pin_and_reads_it_back,
    an_ungranted_pin_is_503_and_the_server_keeps_serving,
    a_grant_for_another_pin_does_not_cover_the_led,
    a_pin_the_board_lacks_is_500,
    memory_figures_are_numbers,
);

fn the_led_drives_the_granted_pin_and_reads_it_back(engine: EngineKind) {
    led_round_trip(granted(engine));
}

fn an_ungranted_pin_is_503_and_the_server_keeps_serving(engine: EngineKind) {
    let s = ungranted(engine);
    ungranted_led_is_503(s, 2);
    let hello = request(s, "GET", "/hello", "");
    assert_eq!(hello.status_line, "HTTP/1.1 200 OK");
    assert_eq!(hello.body, br#"{"message":"Hello, World!"}"#);
}

fn a_grant_for_another_pin_does_not_cover_the_led(engine: EngineKind) {
    let s = shared(engine, "device-pin-3", || {
        config(
            "[plugins]\nload = [\"device\"]\n[grants.device]\ngpio = [3]\n",
            engine,
        )
    });
    ungranted_led_is_503(s, 2);
}

fn a_pin_the_board_lacks_is_500(engine: EngineKind) {
    // The desktop's simulated bank has pins 0-31; 40 is a valid grant but no pin.
    let s = shared(engine, "device-pin-40", || {
        config(
            "[plugins]\nload = [\"device\"]\n[grants.device]\ngpio = [40]\n\
             [plugin.device]\nled_pin = 40\n",
            engine,
        )
    });
    let r = request(s, "POST", "/led", r#"{"state":"on"}"#);
    assert_eq!(
        berth_tests::device::json(&r),
        (
            500,
            serde_json::json!({"error": "No GPIO pin 40 on this board", "code": 500})
        )
    );
}

fn memory_figures_are_numbers(engine: EngineKind) {
    memory_figures(granted(engine));
    memory_figures(ungranted(engine));
}
