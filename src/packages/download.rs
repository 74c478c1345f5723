//! Downloads over HTTP(S) (reqwest, rustls): each file goes to a temporary file beside its
//! destination, is checked against its SHA-256, and only then renamed into place, so nothing
//! half-downloaded is ever used. Transient failures (connection errors, 5xx, truncated
//! bodies, checksum mismatches) are retried; several files download in parallel, with
//! progress bars on a terminal or a plain line per file otherwise.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::engine::Progress;
use crate::formats::checksums;
use crate::values::redact_userinfo;

/// Attempts per file before giving up.
pub const ATTEMPTS: u32 = 4;
/// Files downloaded at once.
pub const PARALLEL: usize = 4;
/// The largest checksum file or signing key accepted.
const SMALL_LIMIT: u64 = 1 << 20;
/// The largest file downloaded: release binaries and tarballs are a few hundred MiB at most
/// (kubelet ~100 MiB); a larger body is a wrong URL or a hostile mirror filling the disk.
pub const MAX_DOWNLOAD: u64 = 1 << 30;

/// A URL as it may be shown: user information (credentials) replaced by `<redacted>`.
fn shown(url: &str) -> String {
    redact_userinfo(url)
}

/// A warning for a plain `http://` source: nothing protects what it serves, and the
/// checksums come from the same place, so they cannot either.
pub fn plain_http_warning(what: &str, url: &str) -> Option<String> {
    url.starts_with("http://").then(|| {
        format!(
            "{what} {} is plain http://: downloads and their checksums can be altered on the way; use an https:// mirror",
            shown(url)
        )
    })
}

/// How the downloader connects and reports.
#[derive(Debug, Clone)]
pub struct Options {
    /// Proxy URL for http and https, if any.
    pub proxy: Option<String>,
    /// Comma-separated hosts, domains and networks reached directly (NO_PROXY syntax).
    pub no_proxy: Option<String>,
    /// Progress display.
    pub progress: Progress,
    /// Attempts per file.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Limit for connecting, and for each read or write once connected (a stall).
    pub stall_timeout: Duration,
    /// The largest body accepted for one file ([`MAX_DOWNLOAD`] by default).
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            proxy: None,
            no_proxy: None,
            progress: Progress::Quiet,
            attempts: ATTEMPTS,
            backoff: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(60),
            max_bytes: MAX_DOWNLOAD,
        }
    }
}

/// Where the expected digest of a download comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// A `.sha256` file at this URL.
    Url(String),
    /// This lowercase hex SHA-256.
    Sha256(String),
}

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Job {
    /// File name shown in progress and errors.
    pub file: String,
    /// Where it comes from.
    pub url: String,
    /// What it must hash to.
    pub checksum: Checksum,
    /// Where it goes (a real path; its directory is created).
    pub dest: PathBuf,
}

/// A fetched, verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Bytes transferred for it by this run (0 when a verified copy was already there).
    pub downloaded: u64,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
}

/// Why a download failed. Every message names the file and the URL.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The HTTP client could not be set up (bad proxy URL).
    #[error("cannot set up downloads: {0}")]
    Setup(String),
    /// The server answered with an error status.
    #[error("cannot download {file} from {url}: the server answered HTTP {status}{hint}")]
    Status {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// What to check.
        hint: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot download {file} from {url}: {reason}")]
    Network {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The cause chain.
        reason: String,
    },
    /// The body ended before its announced length.
    #[error("download of {file} from {url} was cut short: got {got} of {expected} bytes")]
    Truncated {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// The file does not hash to its published checksum.
    #[error(
        "{file} from {url} does not match its checksum: expected sha256 {expected}, got {actual}; the download or the mirror is corrupt (the file was discarded)"
    )]
    Checksum {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// Published digest.
        expected: String,
        /// Digest of what arrived.
        actual: String,
    },
    /// The checksum file is not a digest.
    #[error("the checksum file of {file} at {url} is not a sha256 digest: {reason}")]
    BadChecksumFile {
        /// File name.
        file: String,
        /// URL of the checksum file.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A body larger than any release file.
    #[error(
        "{file} from {url} is larger than {limit} bytes, more than any release file: check the URL and the mirror (the partial download was discarded)"
    )]
    Oversize {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// A larger-than-expected small file (checksum, key).
    #[error("{file} from {url} is larger than {limit} bytes; that is not a checksum or key file")]
    TooLarge {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Writing the download failed (disk full, permissions).
    #[error("cannot write {path} while downloading {file} from {url}: {source}")]
    Io {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The real path written.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Transient failures until the attempts ran out.
    #[error("{last} (gave up after {attempts} attempts)")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<DownloadError>,
    },
}

impl DownloadError {
    /// Whether another attempt may succeed.
    fn transient(&self) -> bool {
        match self {
            DownloadError::Status { status, .. } => *status >= 500 || *status == 429,
            DownloadError::Network { .. }
            | DownloadError::Truncated { .. }
            | DownloadError::Checksum { .. } => true,
            _ => false,
        }
    }
}

/// The causes of an error, outermost first, joined (reqwest hides "connection refused" deep).
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    redact_userinfo(&parts.join(": "))
}

fn status_hint(status: u16) -> String {
    match status {
        404 => "; the file is not there: check that this version is published and that the base URL in [packages] is right".into(),
        401 | 403 => "; access denied: check the mirror's permissions or the proxy".into(),
        s if s >= 500 => "; the server failed, try again later".into(),
        _ => String::new(),
    }
}

fn hex_digest(hasher: Sha256) -> String {
    hex::encode(hasher.finalize())
}

/// The SHA-256 of a file, or `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hex_digest(hasher))
}

/// Shows a file's progress.
enum Meter {
    None,
    Bar(ProgressBar),
}

impl Meter {
    fn start(&self, length: Option<u64>) {
        if let Meter::Bar(bar) = self {
            bar.reset();
            if let Some(n) = length {
                bar.set_length(n);
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Meter::Bar(bar) = self {
            bar.inc(n);
        }
    }
}

/// Downloads files over HTTP(S).
pub struct Downloader {
    client: reqwest::blocking::Client,
    options: Options,
}

impl Downloader {
    /// A downloader with these options. The process environment is never read here: a
    /// proxy comes only from `options`.
    pub fn new(options: Options) -> Result<Self, DownloadError> {
        let mut builder = reqwest::blocking::Client::builder()
            .no_proxy()
            .user_agent(concat!("bootstrap/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.stall_timeout)
            .timeout(options.stall_timeout);
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| {
                    DownloadError::Setup(format!("proxy `{}`: {}", shown(proxy), chain(&e)))
                })?
                .no_proxy(
                    options
                        .no_proxy
                        .as_deref()
                        .and_then(reqwest::NoProxy::from_string),
                );
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| DownloadError::Setup(chain(&e)))?;
        Ok(Downloader { client, options })
    }

    fn get(&self, file: &str, url: &str) -> Result<reqwest::blocking::Response, DownloadError> {
        let response = self
            .client
            .get(url)
            .send()
            .map_err(|e| DownloadError::Network {
                file: file.to_string(),
                url: shown(url),
                reason: chain(&e),
            })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(DownloadError::Status {
                file: file.to_string(),
                url: shown(url),
                status,
                hint: status_hint(status),
            });
        }
        Ok(response)
    }

    /// Runs `once` until it succeeds, fails for good, or the attempts run out.
    fn retry<T>(
        &self,
        mut once: impl FnMut() -> Result<T, DownloadError>,
    ) -> Result<T, DownloadError> {
        let attempts = self.options.attempts.max(1);
        let mut wait = self.options.backoff;
        for attempt in 1..=attempts {
            match once() {
                Ok(value) => return Ok(value),
                Err(e) if !e.transient() => return Err(e),
                Err(e) if attempt == attempts => {
                    return Err(DownloadError::GaveUp {
                        attempts,
                        last: Box::new(e),
                    });
                }
                Err(e) => {
                    tracing::warn!("{e}; retrying in {} ms", wait.as_millis());
                    std::thread::sleep(wait);
                    wait *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// A small file (a checksum or a signing key) in memory, with retries.
    pub fn fetch_small(&self, file: &str, url: &str) -> Result<Vec<u8>, DownloadError> {
        self.retry(|| {
            let response = self.get(file, url)?;
            let mut body = Vec::new();
            response
                .take(SMALL_LIMIT + 1)
                .read_to_end(&mut body)
                .map_err(|e| DownloadError::Network {
                    file: file.to_string(),
                    url: shown(url),
                    reason: chain(&e),
                })?;
            if body.len() as u64 > SMALL_LIMIT {
                return Err(DownloadError::TooLarge {
                    file: file.to_string(),
                    url: shown(url),
                    limit: SMALL_LIMIT,
                });
            }
            Ok(body)
        })
    }

    fn expected_digest(&self, job: &Job) -> Result<String, DownloadError> {
        match &job.checksum {
            Checksum::Sha256(hex) => Ok(hex.clone()),
            Checksum::Url(url) => {
                let name = format!("{}.sha256", job.file);
                let body = self.fetch_small(&name, url)?;
                checksums::parse_digest(&String::from_utf8_lossy(&body)).map_err(|reason| {
                    DownloadError::BadChecksumFile {
                        file: job.file.clone(),
                        url: shown(url),
                        reason,
                    }
                })
            }
        }
    }

    /// One attempt: stream into a temporary file beside `job.dest`, hash, compare, rename.
    fn download_once(
        &self,
        job: &Job,
        expected: &str,
        meter: &Meter,
    ) -> Result<Fetched, DownloadError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| DownloadError::Io {
                file: job.file.clone(),
                url: shown(&job.url),
                path,
                source,
            }
        };
        let mut response = self.get(&job.file, &job.url)?;
        let announced = response.content_length();
        let oversize = || DownloadError::Oversize {
            file: job.file.clone(),
            url: shown(&job.url),
            limit: self.options.max_bytes,
        };
        if announced.is_some_and(|n| n > self.options.max_bytes) {
            return Err(oversize());
        }
        meter.start(announced);
        let dir = job.dest.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{}.part-", job.file))
            .tempfile_in(dir)
            .map_err(io(dir))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut got: u64 = 0;
        loop {
            let n = match response.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(match announced {
                        Some(expected) if got < expected => DownloadError::Truncated {
                            file: job.file.clone(),
                            url: shown(&job.url),
                            got,
                            expected,
                        },
                        _ => DownloadError::Network {
                            file: job.file.clone(),
                            url: shown(&job.url),
                            reason: chain(&e),
                        },
                    });
                }
            };
            got += n as u64;
            if got > self.options.max_bytes {
                return Err(oversize());
            }
            hasher.update(&buffer[..n]);
            temp.write_all(&buffer[..n]).map_err(io(temp.path()))?;
            meter.advance(n as u64);
        }
        if let Some(expected) = announced.filter(|e| got < *e) {
            return Err(DownloadError::Truncated {
                file: job.file.clone(),
                url: shown(&job.url),
                got,
                expected,
            });
        }
        let actual = hex_digest(hasher);
        if actual != expected {
            return Err(DownloadError::Checksum {
                file: job.file.clone(),
                url: shown(&job.url),
                expected: expected.to_string(),
                actual,
            });
        }
        temp.as_file().sync_all().map_err(io(&job.dest))?;
        temp.persist(&job.dest)
            .map_err(|e| io(&job.dest)(e.error))?;
        Ok(Fetched {
            downloaded: got,
            size: got,
            sha256: actual,
        })
    }

    /// Fetches one file: its checksum first, then the body unless a verified copy is
    /// already at `job.dest` (a re-run resumes there).
    pub fn fetch(&self, job: &Job) -> Result<Fetched, DownloadError> {
        self.fetch_with(job, &Meter::None)
    }

    fn fetch_with(&self, job: &Job, meter: &Meter) -> Result<Fetched, DownloadError> {
        let expected = self.expected_digest(job)?;
        if file_sha256(&job.dest).as_deref() == Some(expected.as_str()) {
            let size = std::fs::metadata(&job.dest).map_or(0, |m| m.len());
            return Ok(Fetched {
                downloaded: 0,
                size,
                sha256: expected,
            });
        }
        self.retry(|| self.download_once(job, &expected, meter))
    }

    /// Fetches every job, `parallel` at a time. All are attempted; the first failure (in
    /// job order) is returned when any failed.
    pub fn fetch_all(&self, jobs: &[Job], parallel: usize) -> Result<Vec<Fetched>, DownloadError> {
        let bars = (self.options.progress == Progress::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let style = ProgressStyle::with_template(
            "{msg:<40!} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Fetched, DownloadError>>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(job) = jobs.get(i) else { break };
                        let meter = match &bars {
                            Some(multi) => {
                                let bar = multi.add(ProgressBar::new(0));
                                bar.set_style(style.clone());
                                bar.set_message(job.file.clone());
                                Meter::Bar(bar)
                            }
                            None => Meter::None,
                        };
                        let started = Instant::now();
                        let result = self.fetch_with(job, &meter);
                        self.report(job, &result, started.elapsed(), &meter);
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|r| r.unwrap_or_else(|| unreachable!("every job is taken by a worker")))
            .collect()
    }

    fn report(
        &self,
        job: &Job,
        result: &Result<Fetched, DownloadError>,
        took: Duration,
        meter: &Meter,
    ) {
        let line = match result {
            Ok(f) if f.downloaded == 0 => format!("{}: verified copy already here", job.file),
            Ok(f) => format!(
                "{}: {} in {:.1} s ({}/s), sha256 ok",
                job.file,
                indicatif::HumanBytes(f.downloaded),
                took.as_secs_f64(),
                indicatif::HumanBytes((f.downloaded as f64 / took.as_secs_f64().max(1e-3)) as u64)
            ),
            Err(_) => format!("{}: failed", job.file),
        };
        match (meter, self.options.progress) {
            (Meter::Bar(bar), _) => {
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(format!("download {line}"));
            }
            (Meter::None, Progress::Lines) => eprintln!("download {line}"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        let status = |status| DownloadError::Status {
            file: "f".into(),
            url: "u".into(),
            status,
            hint: status_hint(status),
        };
        assert!(status(503).transient());
        assert!(!status(404).transient());
        assert!(
            status(404)
                .to_string()
                .contains("check that this version is published")
        );
        let gave_up = DownloadError::GaveUp {
            attempts: 4,
            last: Box::new(status(500)),
        };
        assert!(gave_up.to_string().ends_with("(gave up after 4 attempts)"));
    }

    #[test]
    fn bad_proxy_is_a_setup_error() {
        let options = Options {
            proxy: Some("::not a url".into()),
            ..Options::default()
        };
        assert!(matches!(
            Downloader::new(options),
            Err(DownloadError::Setup(_))
        ));
    }
}
