//! A scripted fake router for client tests: a listener on 127.0.0.1:0 whose every
//! accepted connection runs a script that reads command sentences and writes
//! replies, byte for byte as the test says.

use std::sync::Arc;

use futures_util::StreamExt;
use routeros_proto::{encode_sentence, Command, SentenceCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use crate::api::Io;

/// One accepted connection, as the router sees it.
pub struct Peer {
    framed: Framed<Box<dyn Io>, SentenceCodec>,
}

impl Peer {
    /// Next command sentence from the client.
    pub async fn read(&mut self) -> Command {
        let words = self
            .framed
            .next()
            .await
            .expect("client closed")
            .expect("client sent bad bytes");
        Command::parse(&words).expect("command")
    }

    /// Writes one reply sentence.
    pub async fn send(&mut self, words: &[&str]) {
        let mut out = Vec::new();
        encode_sentence(words, &mut out);
        self.raw(&out).await;
    }

    /// Writes raw bytes.
    pub async fn raw(&mut self, bytes: &[u8]) {
        let io = self.framed.get_mut();
        io.write_all(bytes).await.expect("write");
        io.flush().await.expect("flush");
    }

    /// Accepts the plain login.
    pub async fn login_ok(&mut self) {
        let cmd = self.read().await;
        assert_eq!(cmd.path, "/login");
        self.send(&["!done"]).await;
    }
}

/// Binds a fake router; each accepted connection runs `script(peer, index)`.
pub async fn fake_router<F, Fut>(script: F) -> u16
where
    F: Fn(Peer, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    fake_router_with(None, script).await
}

/// Like [`fake_router`], optionally behind TLS.
pub async fn fake_router_with<F, Fut>(tls: Option<tokio_rustls::TlsAcceptor>, script: F) -> u16
where
    F: Fn(Peer, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut index = 0;
        while let Ok((stream, _)) = listener.accept().await {
            let io: Box<dyn Io> = match &tls {
                None => Box::new(stream),
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => Box::new(s),
                    Err(_) => continue, // the client refused our certificate
                },
            };
            let peer = Peer {
                framed: Framed::new(io, SentenceCodec::default()),
            };
            tokio::spawn(script(peer, index));
            index += 1;
        }
    });
    port
}
