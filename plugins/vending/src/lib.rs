//! Seed 002's "SSE Dashboard": a vending machine's sales and stock, live.
//!
//! - `GET /` — the dashboard page (HTML5, CSS grid), fed by `/api/events`;
//! - `GET /api/events` — SSE: the stats every `tick` seconds and after every sale
//!   (unnamed events), and a `low-stock` event when a sale leaves fewer than
//!   `low_stock` units of a product;
//! - `GET /api/stats` — the same stats as JSON (REST, no SSE);
//! - `POST /api/sell` `{"product": "Chips", "price": 4.5}` — records a sale:
//!   `{"success":true,"message":"Chips sold!"}`, or 400
//!   `{"success":false,"message":"Chips out of stock"}` (also for unknown products);
//! - a simulator on a timer sells a random product every `min_gap`–`max_gap` seconds,
//!   the first `first_sale` seconds after start-up (`simulate = false` turns it off).
//!
//! Everything lives in the host's state, so every pooled instance sees the same machine.
use berth_sdk::prelude::*;

struct Vending;

const PAGE: &str = include_str!("dashboard.html");
const TOPIC: &str = "vending";

/// Product, price, units at start-up.
const CATALOG: [(&str, f64, i64); 4] = [
    ("Cola", 5.00, 10),
    ("Water", 3.00, 15),
    ("Chips", 4.50, 8),
    ("Chocolate", 6.00, 12),
];

fn stock_key(product: &str) -> String {
    format!("stock:{product}")
}

fn stats(low_stock: i64) -> Value {
    let now = berth_sdk::now_ms();
    let started = state::get_i64("started_ms");
    let mut stock = berth_sdk::serde_json::Map::new();
    for (product, _, _) in CATALOG {
        stock.insert(product.into(), json!(state::get_i64(&stock_key(product))));
    }
    json!({
        "sales_today": state::get_i64("sales"),
        "total_revenue": state::get_i64("revenue_cents") as f64 / 100.0,
        "stock": stock,
        "last_sale": state::get_json::<Value>("last_sale"),
        "uptime": now.saturating_sub(started as u64) / 1000,
        "low_stock": low_stock,
        "timestamp": now as f64 / 1000.0,
    })
}

/// Sends the stats to every dashboard.
fn push_stats(low_stock: i64) {
    let id = state::incr("events", 1).unwrap_or(0).to_string();
    berth_sdk::publish(TOPIC, &stats(low_stock).to_string(), None, Some(&id));
}

/// Takes one unit of `product` off the stock; `false` when there is none (or no such
/// product). Atomic across instances: the decrement is the host's.
fn sell(product: &str, price: f64, low_stock: i64) -> bool {
    if !CATALOG.iter().any(|(p, _, _)| *p == product) {
        return false;
    }
    let key = stock_key(product);
    let left = match state::incr(&key, -1) {
        Ok(left) => left,
        Err(_) => return false,
    };
    if left < 0 {
        let _ = state::incr(&key, 1);
        return false;
    }
    let _ = state::incr("sales", 1);
    let _ = state::incr("revenue_cents", (price * 100.0).round() as i64);
    let now = berth_sdk::now_ms();
    let last = json!({"product": product, "price": price, "timestamp": now as f64 / 1000.0});
    if let Err(e) = state::set_json("last_sale", &last) {
        warn!("last sale not recorded: {e}");
    }
    info!("sold {product} for {price:.2}");
    if left < low_stock {
        let id = state::incr("events", 1).unwrap_or(0).to_string();
        let alert = json!({"product": product, "stock": left});
        berth_sdk::publish(TOPIC, &alert.to_string(), Some("low-stock"), Some(&id));
    }
    push_stats(low_stock);
    true
}

/// A uniformly random whole number of milliseconds in `[min, max]` seconds.
fn gap_ms(min: f64, max: f64) -> u64 {
    let (lo, hi) = ((min * 1000.0) as u64, (max * 1000.0) as u64);
    lo + berth_sdk::random_u64() % (hi.saturating_sub(lo) + 1)
}

impl Plugin for Vending {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let tick: f64 = config.parse_or("tick", 1.0)?;
        let simulate: bool = config.parse_or("simulate", true)?;
        let first_sale: f64 = config.parse_or("first_sale", 5.0)?;
        let min_gap: f64 = config.parse_or("min_gap", 5.0)?;
        let max_gap: f64 = config.parse_or("max_gap", 15.0)?;
        let low_stock: i64 = config.parse_or("low_stock", 5)?;
        for (name, v) in [("tick", tick), ("min_gap", min_gap), ("max_gap", max_gap)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a positive number of seconds"));
            }
        }
        if max_gap < min_gap || !(first_sale.is_finite() && first_sale >= 0.0) {
            return Err("need 0 <= first_sale and min_gap <= max_gap".into());
        }

        app.on_start(move |_| {
            let now = berth_sdk::now_ms();
            state::set("started_ms", now.to_string());
            for (product, _, units) in CATALOG {
                state::set(&stock_key(product), units.to_string());
            }
            let first = now + (first_sale * 1000.0) as u64;
            state::set("next_sale_ms", first.to_string());
        });

        app.get("/", |_| Response::html(PAGE));
        app.get("/api/events", |_| Response::sse(TOPIC));
        app.get("/api/stats", move |_| Response::json(&stats(low_stock)));
        app.post("/api/sell", move |req| {
            let data: Value = req.json().unwrap_or(Value::Null);
            let product = data["product"].as_str().unwrap_or_default().to_string();
            let price = data["price"].as_f64().unwrap_or(0.0);
            if sell(&product, price, low_stock) {
                Response::json(&json!({"success": true, "message": format!("{product} sold!")}))
            } else {
                Response::json_status(
                    &json!({"success": false, "message": format!("{product} out of stock")}),
                    400,
                )
            }
        });

        app.every(Duration::from_secs_f64(tick), move |_| {
            push_stats(low_stock)
        });
        if simulate {
            // Checked four times a second; the gap itself is random, as in the seed.
            app.every(Duration::from_millis(250), move |now| {
                if (now as i64) < state::get_i64("next_sale_ms") {
                    return;
                }
                let next = now + gap_ms(min_gap, max_gap);
                state::set("next_sale_ms", next.to_string());
                let (product, price, _) = CATALOG[(berth_sdk::random_u64() % 4) as usize];
                if sell(product, price, low_stock) {
                    info!("simulated sale: {product}");
                }
            });
        }
        Ok(())
    }
}

berth_sdk::export_plugin!(Vending);

#[cfg(test)]
mod tests;
