//! The device host API from outside, on every runtime: seed 002's Full Example LED on a
//! granted pin of the server's simulated pin bank, the refusals without a grant (and
//! for a pin the board lacks), and the memory figures behind `/` and `/gc`.

use berth_tests::device::{led_round_trip, memory_figures, request, ungranted_led_is_503};
use berth_tests::{config, example, per_runtime, Runtime, TestServer};

/// seed002-full: the device plugin with `[grants.device] gpio = [2]`.
fn granted(rt: Runtime) -> &'static TestServer {
    rt.shared("seed002-full", || example("seed002-full", rt))
}

/// The device plugin without any grant, next to hello.
fn ungranted(rt: Runtime) -> &'static TestServer {
    rt.shared("device-ungranted", || {
        config("[plugins]\nload = [\"device\", \"hello\"]\n", rt)
    })
}

per_runtime!(
    the_led_drives_the_granted_pin_and_reads_it_back,
    an_ungranted_pin_is_503_and_the_server_keeps_serving,
    a_grant_for_another_pin_does_not_cover_the_led,
    a_pin_the_board_lacks_is_500,
    memory_figures_are_numbers,
);

fn the_led_drives_the_granted_pin_and_reads_it_back(rt: Runtime) {
    led_round_trip(granted(rt));
}

fn an_ungranted_pin_is_503_and_the_server_keeps_serving(rt: Runtime) {
    let s = ungranted(rt);
    ungranted_led_is_503(s, 2);
    let hello = request(s, "GET", "/hello", "");
    assert_eq!(hello.status_line, "HTTP/1.1 200 OK");
    assert_eq!(hello.body, br#"{"message":"Hello, World!"}"#);
}

fn a_grant_for_another_pin_does_not_cover_the_led(rt: Runtime) {
    let s = rt.shared("device-pin-3", || {
        config(
            "[plugins]\nload = [\"device\"]\n[grants.device]\ngpio = [3]\n",
            rt,
        )
    });
    ungranted_led_is_503(s, 2);
}

fn a_pin_the_board_lacks_is_500(rt: Runtime) {
    // The desktop's simulated bank has pins 0-31; 40 is a valid grant but no pin.
    let s = rt.shared("device-pin-40", || {
        config(
            "[plugins]\nload = [\"device\"]\n[grants.device]\ngpio = [40]\n\
             [plugin.device]\nled_pin = 40\n",
            rt,
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

fn memory_figures_are_numbers(rt: Runtime) {
    memory_figures(granted(rt));
    memory_figures(ungranted(rt));
}
