//! The floor of `make bench`: actix-web with nothing of ours in it, run beside our services
//! under the same wrk load, so the table can say how close a row is to what any actix-web
//! service can do on that machine. One worker per CPU (actix's default, as our services run),
//! no middleware, two handlers:
//!
//! - `GET /get`: 200 with a static body of `BODY_BYTES` bytes (the benchmark passes the size
//!   of our AS metadata document);
//! - `POST /post`: reads the request body, then 401 with a small JSON body (as our
//!   `POST /mcp` without a token).
//!
//! Usage: `http_floor <port> <body-bytes>` (127.0.0.1 only). Not part of any service.

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let body = web::Bytes::from(vec![b'x'; size]);
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new()
            .route(
                "/get",
                web::get().to(move || {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
            .route(
                "/post",
                web::post().to(|_body: web::Bytes| async {
                    HttpResponse::Unauthorized()
                        .content_type("application/json")
                        .body(r#"{"error":"unauthorized"}"#)
                }),
            )
    })
    .bind(("127.0.0.1", port))?;
    let bound = server.addrs()[0].port();
    println!("http_floor listening on 127.0.0.1:{bound}");
    server.run().await
}
