//! `fetch` against a small HTTP server on 127.0.0.1 (good, truncated,
//! corrupted, missing, dropped and flaky files, and no server at all), and
//! the `parana data` commands run as a user would.

use parana::data::Dataset;
use parana::data::fetch::{FetchOptions, Fetched, Progress, fetch, fetch_file};
use parana::data::registry::MNIST;
use parana::data::verify::Integrity;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Clone)]
enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 announcing `claimed` bytes, then hanging up after `body`.
    Short { body: Vec<u8>, claimed: usize },
    /// 500 for the first `fails` requests, then 200 with the body.
    FailThen { fails: usize, body: Vec<u8> },
}

struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn url(&self, prefix: &str) -> String {
        format!("{}/{prefix}/", self.base)
    }
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn handle(mut s: TcpStream, routes: &HashMap<String, Reply>, hits: &Mutex<HashMap<String, usize>>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let n = {
        let mut h = hits.lock().unwrap();
        let e = h.entry(path.clone()).or_insert(0);
        *e += 1;
        *e
    };
    let ok = |s: &mut TcpStream, body: &[u8], claimed: usize| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body);
    };
    let status = |s: &mut TcpStream, code: &str| {
        let head = format!("HTTP/1.1 {code}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope");
        let _ = s.write_all(head.as_bytes());
    };
    match routes.get(&path) {
        Some(Reply::Body(b)) => ok(&mut s, b, b.len()),
        Some(Reply::Short { body, claimed }) => ok(&mut s, body, *claimed),
        Some(Reply::FailThen { fails, body }) if n > *fails => ok(&mut s, body, body.len()),
        Some(Reply::FailThen { .. }) => status(&mut s, "500 Internal Server Error"),
        None => status(&mut s, "404 Not Found"),
    }
    let _ = s.flush();
}

fn mnist_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/datasets/mnist"
    ))
}

/// One server for the whole test binary.
fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let mut routes = HashMap::new();
        for f in &MNIST.files {
            let name = f.gz_name();
            let good = std::fs::read(mnist_dir().join(&name)).unwrap();
            let half = good[..good.len() / 2].to_vec();
            let mut bad = good.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x10;
            routes.insert(format!("/good/{name}"), Reply::Body(good.clone()));
            // The same for the CLI test, so hit counts stay per test.
            routes.insert(format!("/cli/{name}"), Reply::Body(good.clone()));
            routes.insert(format!("/trunc/{name}"), Reply::Body(half.clone()));
            routes.insert(format!("/bad/{name}"), Reply::Body(bad));
            routes.insert(
                format!("/drop/{name}"),
                Reply::Short {
                    body: half,
                    claimed: good.len(),
                },
            );
            routes.insert(
                format!("/flaky/{name}"),
                Reply::FailThen {
                    fails: 2,
                    body: good,
                },
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let routes = Arc::new(routes);
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (routes, h) = (routes.clone(), h.clone());
                std::thread::spawn(move || handle(s, &routes, &h));
            }
        });
        Server { base, hits }
    })
}

fn opts(dir: &Path, base: String) -> FetchOptions {
    let mut o = FetchOptions::new(dir);
    o.base_url = Some(base);
    o.backoff = Duration::from_millis(10);
    o.connect_timeout = Duration::from_secs(5);
    o.timeout = Duration::from_secs(30);
    o
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Err(_) => Vec::new(),
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }
}

#[test]
fn good_files_land_verified_and_are_then_skipped() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("cache").join("mnist");
    let o = opts(&dest, s.url("good"));
    let mut bytes = 0u64;
    let results = fetch(&MNIST, &o, &mut |p| {
        if let Progress::Advance(n) = p {
            bytes += n;
        }
    });
    assert_eq!(results.len(), 4);
    for (name, r) in &results {
        match r {
            Ok(Fetched::Downloaded {
                path,
                check,
                attempts,
            }) => {
                assert_eq!(*attempts, 1);
                assert!(matches!(check.integrity, Integrity::Known(_)), "{name}");
                assert_eq!(
                    std::fs::read(path).unwrap(),
                    std::fs::read(mnist_dir().join(path.file_name().unwrap())).unwrap()
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let total: u64 = MNIST
        .files
        .iter()
        .map(|f| {
            std::fs::metadata(mnist_dir().join(f.gz_name()))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(bytes, total);
    let mut want: Vec<String> = MNIST.files.iter().map(|f| f.gz_name()).collect();
    want.sort();
    assert_eq!(entries(&dest), want, "only the four files, no temp files");
    let d = Dataset::load("mnist", Some(&dest), None).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));

    // Second run: nothing is downloaded again.
    let again = fetch(&MNIST, &o, &mut |_| {});
    for (name, r) in &again {
        assert!(matches!(r, Ok(Fetched::Present { .. })), "{name}: {r:?}");
    }
    for f in &MNIST.files {
        assert_eq!(s.hits(&format!("/good/{}", f.gz_name())), 1);
    }

    // A present but corrupt file is replaced.
    let p = dest.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&p, b"rubbish").unwrap();
    let r = fetch_file(&MNIST, &MNIST.files[3], &o, &mut |_| {}).unwrap();
    assert!(matches!(r, Fetched::Downloaded { .. }), "{r:?}");
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 4540);
    assert_eq!(entries(&dest), want);
}

#[test]
fn truncated_and_corrupted_files_are_rejected_leaving_nothing() {
    let s = server();
    for (prefix, why) in [("trunc", "truncated"), ("bad", "gzip data")] {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        let results = fetch(&MNIST, &opts(&dest, s.url(prefix)), &mut |_| {});
        for (name, r) in results {
            let e = r.expect_err("a bad file must be rejected");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!(
                    "{}{name}.gz: SHA-256 mismatch: got ",
                    s.url(prefix)
                )),
                "{msg}"
            );
            assert!(msg.contains(why), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            assert_eq!(e.exit_code(), 2);
        }
        assert_eq!(entries(&dest), Vec::<String>::new(), "{prefix}");
        assert_eq!(entries(tmp.path()), Vec::<String>::new(), "{prefix}");
    }
}

#[test]
fn missing_file_is_not_retried() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let e = fetch_file(
        &MNIST,
        &MNIST.files[3],
        &opts(tmp.path(), s.url("missing")),
        &mut |_| {},
    )
    .unwrap_err();
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "cannot download {}t10k-labels-idx1-ubyte.gz: HTTP 404 Not Found",
            s.url("missing")
        )
    );
    assert_eq!(s.hits("/missing/t10k-labels-idx1-ubyte.gz"), 1);
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn dropped_connections_are_retried_then_reported() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path(), s.url("drop"));
    o.retries = 2;
    let mut retries = 0;
    let e = fetch_file(&MNIST, &MNIST.files[2], &o, &mut |p| {
        if let Progress::Retry { .. } = p {
            retries += 1;
        }
    })
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("cannot download "), "{msg}");
    assert!(msg.contains("t10k-images-idx3-ubyte.gz"), "{msg}");
    assert!(msg.ends_with("gave up after 3 attempts"), "{msg}");
    assert_eq!(retries, 2);
    assert_eq!(s.hits("/drop/t10k-images-idx3-ubyte.gz"), 3);
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn flaky_server_succeeds_after_retries() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let r = fetch_file(
        &MNIST,
        &MNIST.files[1],
        &opts(tmp.path(), s.url("flaky")),
        &mut |_| {},
    )
    .unwrap();
    match r {
        Fetched::Downloaded { attempts, .. } => assert_eq!(attempts, 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(entries(tmp.path()), ["train-labels-idx1-ubyte.gz"]);
}

#[test]
fn unreachable_server_gives_one_clear_line() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path(), format!("http://127.0.0.1:{port}/x/"));
    o.retries = 1;
    let results = fetch(&MNIST, &o, &mut |_| {});
    let msgs: Vec<String> = results
        .into_iter()
        .map(|(_, r)| r.unwrap_err().to_string())
        .collect();
    assert!(
        msgs[0].starts_with(&format!(
            "cannot download http://127.0.0.1:{port}/x/train-images-idx3-ubyte.gz: "
        )),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("offline?"), "{}", msgs[0]);
    assert!(!msgs[0].contains('\n'));
    // The other files are not tried once the server is known unreachable.
    for m in &msgs[1..] {
        assert_eq!(
            m, "not tried: the server was unreachable for train-images-idx3-ubyte.gz",
            "{msgs:?}"
        );
    }
    assert!(entries(tmp.path()).is_empty());
}

fn parana(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parana"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_fetch_verify_and_corrupt_file() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("m");
    let d = dest.to_str().unwrap();
    let (code, out, err) = parana(&[
        "data",
        "fetch",
        "mnist",
        "--dir",
        d,
        "--base-url",
        &s.url("cli"),
        "-q",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("downloaded").count(), 4, "{out}");

    let (code, out, err) = parana(&["data", "verify", "mnist", "--data-dir", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("OK ")).count(),
        5,
        "{out}"
    );

    // Truncate one file: verify fails with exit code 2 and one line on stderr.
    let p = dest.join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, err) = parana(&["data", "verify", "mnist", "--data-dir", d]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("t10k-labels-idx1-ubyte.gz: SHA-256 mismatch"),
        "{err}"
    );
    assert!(out.contains("FAIL  t10k-labels-idx1-ubyte.gz"), "{out}");

    // A corrupt download: exit code 2, nothing left behind.
    let dest2 = tmp.path().join("m2");
    let (code, out, err) = parana(&[
        "data",
        "fetch",
        "mnist",
        "--dir",
        dest2.to_str().unwrap(),
        "--base-url",
        &s.url("bad"),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(entries(&dest2).is_empty());

    // Unknown dataset and missing folder: exit code 2.
    let (code, _, err) = parana(&["data", "verify", "cifar"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown dataset"), "{err}");
    let (code, _, err) = parana(&["data", "verify", "mnist", "--data-dir", "/nonexistent/x"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
