//! The router's match, on a table the size of a real app (the bundled plugins' routes
//! plus a hundred more), for a static hit, a `<param>` hit, a 404 and a 405.

use berth_core::model::Method;
use berth_core::router::{Match, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn table() -> Router<u32> {
    let mut router = Router::new();
    let routes = [
        (Method::Get, "/"),
        (Method::Get, "/hello"),
        (Method::Get, "/status"),
        (Method::Post, "/echo"),
        (Method::Post, "/sum"),
        (Method::Get, "/users/<user_id>"),
        (Method::Put, "/users/<id>"),
        (Method::Delete, "/users/<id>"),
        (Method::Get, "/posts/<post_id>/comments/<comment_id>"),
        (Method::Get, "/search"),
        (Method::Get, "/api/users"),
        (Method::Post, "/api/users"),
    ];
    for (i, (method, path)) in routes.iter().enumerate() {
        router
            .insert(*method, path, i as u32)
            .expect("distinct routes");
    }
    for i in 0..100 {
        let path = format!("/section{}/item/<id>/detail", i);
        router
            .insert(Method::Get, &path, 1000 + i)
            .expect("distinct routes");
    }
    router
}

fn bench(c: &mut Criterion) {
    let router = table();
    let mut group = c.benchmark_group("router");
    for (name, method, path) in [
        ("static", Method::Get, "/hello"),
        ("params", Method::Get, "/posts/42/comments/7"),
        ("deep", Method::Get, "/section77/item/9/detail"),
        ("404", Method::Get, "/no/such/path"),
        ("405", Method::Patch, "/hello"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                matches!(
                    router.find(black_box(method), black_box(path)),
                    Match::Found { .. }
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
