//! A fault-injecting TCP proxy on loopback: it forwards bytes between a
//! client and an upstream port, and on request delays them, refuses
//! connections, swallows everything (blackhole) or cuts connections after
//! a number of bytes (mid-frame). The upstream can be changed at run time,
//! so a server can be "restarted" elsewhere behind a stable address.
//!
//! Plain threads: one accepting, two per connection; all of them end when
//! the proxy is dropped or its connections are cut.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything at once.
    Pass,
    /// Forward each chunk after this delay.
    Delay(Duration),
    /// Accept new connections and close them at once.
    Refuse,
    /// Read everything and forward nothing (a peer that vanished without a
    /// FIN, or a dead middlebox).
    Blackhole,
    /// Forward this many more bytes from the server to the client, then cut
    /// both sides (usually mid-frame).
    CutAfter(usize),
}

struct Shared {
    fault: Mutex<Fault>,
    upstream: AtomicUsize,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Both sockets of every live connection (by id), to cut them on
    /// demand; removed when both directions have ended.
    live: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    /// Bytes the `CutAfter` budget still allows.
    budget: Mutex<Option<usize>>,
}

impl Shared {
    fn fault(&self) -> Fault {
        *lock(&self.fault)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running proxy; dropping it stops it and cuts its connections.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on `127.0.0.1:0` forwarding to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::Pass),
            upstream: AtomicUsize::new(usize::from(upstream)),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            live: Mutex::new(Vec::new()),
            budget: Mutex::new(None),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        FaultProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port` of the proxy, as a channel target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Changes what happens to traffic from now on (live connections too).
    pub fn set(&self, fault: Fault) {
        *lock(&self.shared.budget) = match fault {
            Fault::CutAfter(bytes) => Some(bytes),
            _ => None,
        };
        *lock(&self.shared.fault) = fault;
    }

    /// Points new connections at another upstream port.
    pub fn set_upstream(&self, port: u16) {
        self.shared
            .upstream
            .store(usize::from(port), Ordering::SeqCst);
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Cuts every live connection (both sides see a reset or EOF).
    pub fn cut_all(&self) {
        for (_, client, server) in lock(&self.shared.live).drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                if shared.fault() == Fault::Refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let upstream = shared.upstream.load(Ordering::SeqCst) as u16;
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                next_id += 1;
                let id = next_id;
                lock(&shared.live).push((id, c3, s3));
                let pending = Arc::new(AtomicUsize::new(2));
                let up = Link {
                    shared: Arc::clone(&shared),
                    id,
                    pending: Arc::clone(&pending),
                    downstream: false,
                };
                pumps.push(std::thread::spawn(move || pump(client, server, up)));
                let down = Link {
                    shared: Arc::clone(&shared),
                    id,
                    pending,
                    downstream: true,
                };
                pumps.push(std::thread::spawn(move || pump(s2, c2, down)));
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        pumps.retain(|pump| !pump.is_finished());
    }
    for pump in pumps {
        let _ = pump.join();
    }
}

/// One direction of one connection.
struct Link {
    shared: Arc<Shared>,
    id: u64,
    /// Directions of the connection still running.
    pending: Arc<AtomicUsize>,
    /// Server to client (where `CutAfter` counts).
    downstream: bool,
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            lock(&self.shared.live).retain(|(id, _, _)| *id != self.id);
        }
    }
}

/// Copies `from` to `to` under the current fault.
fn pump(mut from: TcpStream, mut to: TcpStream, link: Link) {
    let shared = &link.shared;
    let downstream = link.downstream;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        match shared.fault() {
            Fault::Pass | Fault::Refuse => {}
            Fault::Delay(delay) => std::thread::sleep(delay),
            Fault::Blackhole => continue,
            Fault::CutAfter(_) if downstream => {
                let mut budget = lock(&shared.budget);
                let left = budget.unwrap_or(0);
                if chunk.len() >= left {
                    chunk = &chunk[..left];
                    *budget = Some(0);
                    drop(budget);
                    let _ = to.write_all(chunk);
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
                *budget = Some(left - chunk.len());
            }
            Fault::CutAfter(_) => {}
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    if shared.stop.load(Ordering::SeqCst) {
        let _ = from.shutdown(Shutdown::Both);
    }
}
