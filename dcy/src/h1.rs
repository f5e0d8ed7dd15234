//! A lean HTTP/1.1 client for reads (`GET`) over plain TCP or a Unix socket.
//!
//! A watch holds one blocking query open for minutes. Through reqwest and
//! hyper each one costs about 45 KiB while it waits (8 KiB read and write
//! buffers, the connection's dispatch queue, the pool's bookkeeping), which
//! is most of the memory of a process that watches a thousand services. Here
//! a waiting read costs its socket and the future that awaits it: the read
//! buffer is allocated only once the answer starts to arrive, and idle
//! connections are kept in a small pool with nothing but the socket.
//!
//! Writes, HTTPS and a configured proxy keep using reqwest.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixStream};

/// The longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted (a catalog of many thousand services fits).
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Idle connections kept for reuse, at most.
const MAX_IDLE: usize = 512;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the agent listens.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `host:port`.
    Tcp(String),
    /// A Unix socket path.
    Unix(PathBuf),
}

/// One answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connecting, writing or reading failed; nothing usable arrived.
    Io(io::Error),
    /// The agent sent something that is not a valid HTTP/1.1 answer.
    Malformed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Malformed(m) => write!(f, "malformed HTTP answer: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.readable().await,
            Stream::Unix(s) => s.readable().await,
        }
    }

    fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
        }
    }

    async fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(b).await,
            Stream::Unix(s) => s.write_all(b).await,
        }
    }

    /// Still open and with nothing unread: fit to carry the next request.
    fn is_reusable(&self) -> bool {
        let mut probe = Vec::with_capacity(1);
        matches!(self.try_read_buf(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Reads more bytes into `buf`, growing it by up to `want`; `0` is EOF.
    async fn read_more(&self, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
        loop {
            self.readable().await?;
            buf.reserve(want);
            match self.try_read_buf(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[derive(Debug)]
struct Idle {
    stream: Stream,
    since: Instant,
}

/// The client: a target and a pool of idle connections to it.
#[derive(Debug)]
pub(crate) struct H1 {
    target: Target,
    host: String,
    idle: Mutex<Vec<Idle>>,
}

impl H1 {
    /// A client for `target`; `host` is sent as the `Host` header.
    pub(crate) fn new(target: Target, host: String) -> H1 {
        H1 {
            target,
            host,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// `GET path_and_query` with `headers` (`Name: value\r\n` lines).
    ///
    /// A reused connection that turns out to be closed is replaced by a new
    /// one once: a `GET` is safe to send again.
    pub(crate) async fn get(&self, path_and_query: &str, headers: &str) -> Result<Answer, Failure> {
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\n{headers}\r\n",
            self.host
        );
        if let Some(stream) = self.take_idle() {
            match exchange(stream, request.as_bytes()).await {
                Ok((answer, keep)) => {
                    self.put_idle(keep);
                    return Ok(answer);
                }
                // Closed while idle: the agent restarted or timed it out.
                Err(Attempt::Stale) => {}
                Err(Attempt::Failed(f)) => return Err(f),
            }
        }
        let stream = self.connect().await?;
        match exchange(stream, request.as_bytes()).await {
            Ok((answer, keep)) => {
                self.put_idle(keep);
                Ok(answer)
            }
            Err(Attempt::Stale) => Err(Failure::Io(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the agent closed the connection without answering",
            ))),
            Err(Attempt::Failed(f)) => Err(f),
        }
    }

    async fn connect(&self) -> io::Result<Stream> {
        match &self.target {
            Target::Tcp(addr) => {
                let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr.as_str()))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connecting to {addr} took over {CONNECT_TIMEOUT:?}"),
                        )
                    })??;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            Target::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }

    fn take_idle(&self) -> Option<Stream> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if c.since.elapsed() < IDLE_TIMEOUT && c.stream.is_reusable() {
                return Some(c.stream);
            }
        }
        None
    }

    fn put_idle(&self, stream: Option<Stream>) {
        let Some(stream) = stream else { return };
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                stream,
                since: Instant::now(),
            });
        }
    }
}

enum Attempt {
    /// The connection was closed before a byte of the answer arrived.
    Stale,
    Failed(Failure),
}

/// Sends `request` and reads one answer; yields the connection back when it
/// can carry another request.
async fn exchange(mut stream: Stream, request: &[u8]) -> Result<(Answer, Option<Stream>), Attempt> {
    if let Err(e) = stream.write_all(request).await {
        return Err(if is_closed(&e) {
            Attempt::Stale
        } else {
            Attempt::Failed(e.into())
        });
    }
    // Nothing is allocated until the answer starts to arrive.
    let mut buf = Vec::new();
    let head = loop {
        if !buf.is_empty() {
            match parse_head(&buf).map_err(Attempt::Failed)? {
                // `100 Continue` and the like: the real answer follows.
                Some(h) if h.status.is_informational() => {
                    buf.drain(..h.len);
                    continue;
                }
                Some(h) => break h,
                None => {}
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(Attempt::Failed(Failure::Malformed(format!(
                "response head over {MAX_HEAD} bytes"
            ))));
        }
        match stream.read_more(&mut buf, 4096).await {
            Ok(0) if buf.is_empty() => return Err(Attempt::Stale),
            Ok(0) => {
                return Err(Attempt::Failed(cut_short(
                    "the connection closed in the middle of the response head".into(),
                )))
            }
            Ok(_) => {}
            Err(e) if buf.is_empty() && is_closed(&e) => return Err(Attempt::Stale),
            Err(e) => return Err(Attempt::Failed(e.into())),
        }
    };
    buf.drain(..head.len);
    let (body, reusable) = read_body(&stream, buf, &head)
        .await
        .map_err(Attempt::Failed)?;
    let keep = (reusable && head.keep_alive).then_some(stream);
    Ok((
        Answer {
            status: head.status,
            headers: head.headers,
            body,
        },
        keep,
    ))
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

#[derive(Debug)]
struct Head {
    len: usize,
    status: StatusCode,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses a complete response head at the start of `buf`, or `None` if more
/// bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    let mut raw = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut raw);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Failure::Malformed(e.to_string())),
    };
    let code = resp.code.unwrap_or(0);
    let status = StatusCode::from_u16(code)
        .map_err(|_| Failure::Malformed(format!("status code {code}")))?;
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let mut framing = Framing::UntilClose;
    let mut keep_alive = resp.version == Some(1);
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Failure::Malformed(format!("header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| Failure::Malformed(format!("value of header {}", h.name)))?;
        if name == reqwest::header::TRANSFER_ENCODING {
            let te = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if te.trim().ends_with("chunked") {
                framing = Framing::Chunked;
            } else {
                return Err(Failure::Malformed(format!("transfer-encoding {te}")));
            }
        } else if name == reqwest::header::CONTENT_LENGTH && framing != Framing::Chunked {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    Failure::Malformed(format!(
                        "content-length {:?}",
                        String::from_utf8_lossy(h.value)
                    ))
                })?;
            if n > MAX_BODY {
                return Err(Failure::Malformed(format!(
                    "a body of {n} bytes is over the limit of {MAX_BODY}"
                )));
            }
            framing = Framing::Length(n);
        } else if name == reqwest::header::CONNECTION {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if v.contains("close") {
                keep_alive = false;
            } else if v.contains("keep-alive") {
                keep_alive = true;
            }
        }
        headers.append(name, value);
    }
    // 204 and 304 have no body whatever the headers say.
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        framing = Framing::Length(0);
    }
    Ok(Some(Head {
        len,
        status,
        headers,
        framing,
        keep_alive,
    }))
}

/// Reads the body after the head (`buf` holds what already arrived). The
/// flag says whether the connection ended exactly at the body's end.
async fn read_body(
    stream: &Stream,
    mut buf: Vec<u8>,
    head: &Head,
) -> Result<(Bytes, bool), Failure> {
    match head.framing {
        Framing::Length(n) => {
            while buf.len() < n {
                let want = (n - buf.len()).min(1 << 20);
                if stream.read_more(&mut buf, want).await? == 0 {
                    return Err(truncated(buf.len(), n));
                }
            }
            let exact = buf.len() == n;
            buf.truncate(n);
            Ok((Bytes::from(buf), exact))
        }
        Framing::UntilClose => {
            while stream.read_more(&mut buf, 16 * 1024).await? > 0 {
                if buf.len() > MAX_BODY {
                    return Err(Failure::Malformed(format!(
                        "a body over the limit of {MAX_BODY} bytes"
                    )));
                }
            }
            Ok((Bytes::from(buf), false))
        }
        Framing::Chunked => {
            let mut body = Vec::new();
            let mut at = 0;
            loop {
                match dechunk(&buf[at..], &mut body)? {
                    Dechunk::Done(used) => {
                        let exact = at + used == buf.len();
                        return Ok((Bytes::from(body), exact));
                    }
                    Dechunk::More(used) => at += used,
                }
                if body.len() > MAX_BODY {
                    return Err(Failure::Malformed(format!(
                        "a body over the limit of {MAX_BODY} bytes"
                    )));
                }
                if at > 0 {
                    buf.drain(..at);
                    at = 0;
                }
                if stream.read_more(&mut buf, 16 * 1024).await? == 0 {
                    return Err(cut_short(
                        "the connection closed in the middle of a chunked body".into(),
                    ));
                }
            }
        }
    }
}

fn truncated(got: usize, want: usize) -> Failure {
    cut_short(format!(
        "the connection closed after {got} of {want} body bytes"
    ))
}

/// An answer cut short is a transport failure (worth a retry), not bad data.
fn cut_short(what: String) -> Failure {
    Failure::Io(io::Error::new(io::ErrorKind::UnexpectedEof, what))
}

enum Dechunk {
    /// The last chunk and the trailers ended after this many bytes.
    Done(usize),
    /// This many bytes were consumed; more are needed.
    More(usize),
}

/// Decodes the complete chunks at the start of `input` into `body`.
fn dechunk(input: &[u8], body: &mut Vec<u8>) -> Result<Dechunk, Failure> {
    let mut at = 0;
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&input[at..]) {
            Ok(httparse::Status::Complete(v)) => v,
            Ok(httparse::Status::Partial) => return Ok(Dechunk::More(at)),
            Err(_) => return Err(Failure::Malformed("a bad chunk size line".into())),
        };
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_BODY)
            .ok_or_else(|| Failure::Malformed(format!("a chunk of {size} bytes")))?;
        let start = at + size_len;
        if size == 0 {
            // Trailers, each ending in CRLF, then an empty line.
            let mut p = start;
            loop {
                let rest = &input[p..];
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(Dechunk::More(at));
                };
                p += eol + 2;
                if eol == 0 {
                    return Ok(Dechunk::Done(p));
                }
            }
        }
        let end = start + size;
        if input.len() < end + 2 {
            return Ok(Dechunk::More(at));
        }
        if &input[end..end + 2] != b"\r\n" {
            return Err(Failure::Malformed("a chunk not followed by CRLF".into()));
        }
        body.extend_from_slice(&input[start..end]);
        at = end + 2;
    }
}

#[cfg(test)]
mod tests;
