//! Socket options of our listeners' connections.
//!
//! actix-web leaves Nagle's algorithm on for accepted connections. An answer written in more
//! than one piece (anything larger than one write buffer: a `tools/list` with output schemas, a
//! file read) then has its last piece held back until the client acknowledges the first, and a
//! client that delays its ACKs (40 ms on Linux) waits that long for every such answer: in
//! `make bench`, `tools/list` fell from 18k to 400 answers a second once its answer outgrew one
//! write. Every listener of ours sets `TCP_NODELAY` on each connection it accepts.

use std::any::Any;

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;

/// `HttpServer::on_connect` hook: `TCP_NODELAY` on every accepted TCP connection.
pub fn no_delay(connection: &dyn Any, _: &mut Extensions) {
    if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn accepted_connections_get_no_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "Nagle is on by default");
        no_delay(&accepted, &mut Extensions::new());
        assert!(accepted.nodelay().unwrap());
        // Anything else (a TLS stream, a Unix socket) is left alone.
        no_delay(&"not a socket", &mut Extensions::new());
    }
}
