//! A loopback HTTP/1.1 server for download tests and the download benchmark: serves files
//! from memory, records every request, and fails on purpose when told to (a status code, a
//! body cut short, a throttled body). One request per connection (`Connection: close`).
//! Requests in absolute form (`GET http://host/path`, as sent to a proxy) are served by
//! path too, and recorded as they came.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A deliberate failure for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// Announce the full length, send only this many bytes, close.
    Truncate(usize),
    /// Send the body at about this many bytes per second.
    Throttle(u64),
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, Vec<u8>>,
    faults: BTreeMap<String, VecDeque<Fault>>,
    always: BTreeMap<String, Fault>,
    requests: Vec<String>,
}

/// The server; it stops when dropped.
pub struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts on 127.0.0.1 on a free port.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, &state));
                }
            })
        };
        Server {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves `bytes` at `path` (starting with `/`).
    pub fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.lock().files.insert(path.to_string(), bytes.into());
    }

    /// Stops serving `path` (404).
    pub fn remove(&self, path: &str) {
        self.lock().files.remove(path);
    }

    /// The next `times` requests for `path` get `fault`.
    pub fn fail(&self, path: &str, fault: Fault, times: usize) {
        let mut state = self.lock();
        let queue = state.faults.entry(path.to_string()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Every request for `path` gets `fault` until [`Server::heal`].
    pub fn fail_always(&self, path: &str, fault: Fault) {
        self.lock().always.insert(path.to_string(), fault);
    }

    /// Removes every fault.
    pub fn heal(&self) {
        let mut state = self.lock();
        state.faults.clear();
        state.always.clear();
    }

    /// The request targets received so far (path, or absolute URL when sent to a proxy),
    /// then forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().requests)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The path of a request target: `/a/b` as is, `http://host:port/a/b` → `/a/b`.
fn path_of(target: &str) -> String {
    match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/".into(), |i| rest[i..].to_string()),
        None => target.to_string(),
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let path = path_of(&target);
    let (body, fault) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.requests.push(target);
        let fault = s
            .faults
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .or_else(|| s.always.get(&path).copied());
        (s.files.get(&path).cloned(), fault)
    };
    let mut out = stream;
    let head = |status: &str, length: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n")
    };
    let Some(body) = body else {
        let _ = out.write_all(head("404 Not Found", 0).as_bytes());
        return;
    };
    match fault {
        Some(Fault::Status(code)) => {
            let _ = out.write_all(head(&format!("{code} Injected"), 0).as_bytes());
        }
        Some(Fault::Truncate(n)) => {
            let _ = out.write_all(head("200 OK", body.len()).as_bytes());
            let _ = out.write_all(&body[..n.min(body.len())]);
        }
        Some(Fault::Throttle(rate)) => {
            let _ = out.write_all(head("200 OK", body.len()).as_bytes());
            let chunk = (rate / 20).max(1) as usize;
            for part in body.chunks(chunk) {
                if out.write_all(part).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        None => {
            let _ = out.write_all(head("200 OK", body.len()).as_bytes());
            let _ = out.write_all(&body);
        }
    }
    let _ = out.flush();
}
