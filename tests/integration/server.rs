//! A scripted HTTP/1.1 server on 127.0.0.1 for the API tests: each request gets whatever the
//! test's handler says, including faults no real server library will produce on purpose
//! (a body cut short of its Content-Length, a stall before the headers).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// The request line, e.g. `GET /ws/model-evals/abc HTTP/1.1`.
    pub(crate) line: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON request body")
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to send back.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Pause before the status line.
    pub(crate) delay: Duration,
    /// Send only this many body bytes, then close (the Content-Length still says all).
    pub(crate) cut_at: Option<usize>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            cut_at: None,
        }
    }

    pub(crate) fn html(status: u16, body: &str) -> Reply {
        Reply {
            headers: vec![("Content-Type".into(), "text/html".into())],
            ..Reply::json(status, body)
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub(crate) fn cut_at(mut self, n: usize) -> Reply {
        self.cut_at = Some(n);
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// The server; stops accepting when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts a server whose `handler` gets each request and how many requests for the same
    /// path came before it.
    pub(crate) fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (seen, stop) = (seen.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, handler) = (seen.clone(), handler.clone());
                    thread::spawn(move || serve(conn, &seen, &*handler));
                }
            });
        }
        Server { addr, seen, stop }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Seen>>, handler: &Handler) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let method = line.split(' ').next().unwrap_or("").to_owned();
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let length = headers
        .iter()
        .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Seen {
        line,
        method,
        path,
        headers,
        body,
    };
    let nth = {
        let mut all = seen.lock().unwrap();
        let nth = all.iter().filter(|s| s.path == request.path).count();
        all.push(request.clone());
        nth
    };
    let reply = handler(&request, nth);
    thread::sleep(reply.delay);
    let mut out = conn;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let body = match reply.cut_at {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    let _ = out
        .write_all(head.as_bytes())
        .and_then(|()| out.write_all(body));
    let _ = out.flush();
}

/// The panel endpoints of Roboflow's Model Evaluations API for one eval, as documented:
/// `confidence-sweep` (every split, two-decimal `perThreshold` keys from 0.00 to 0.99),
/// `performance-by-class?split=` (a list; the last class absent, `map50: null`, P/R/F1 0;
/// `invalid_split` for anything but train, valid and test),
/// `confusion-matrix?split=&confidence=` (classes with a trailing background; `invalid_split`
/// beyond train, valid, test and all, `invalid_confidence` for anything but a whole percent
/// from 0 to 100) and `image-predictions` ([`image_page`] over [`IMAGES`] images). `None` for
/// any other path. `skill` shifts the curves, so two evals differ.
pub(crate) fn panel(target: &str, splits: &[&str], classes: &[&str], skill: f64) -> Option<Reply> {
    use serde_json::{Map, Value, json};
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    // Precision rises and recall falls with the confidence; a class's curve is the split's,
    // shifted by its index.
    let prf = |t: f64, shift: f64| {
        let p = (0.3 + 0.65 * t + skill + shift).clamp(0.0, 1.0);
        let r = (0.98 - 0.9 * t * t + skill - shift).clamp(0.0, 1.0);
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        (round(p), round(r), round(f))
    };
    let curve = |shift: f64| {
        let mut per = Map::new();
        let mut best = (0, -1.0);
        for i in 0..100 {
            let (p, r, f) = prf(f64::from(i) / 100.0, shift);
            per.insert(
                format!("{:.2}", f64::from(i) / 100.0),
                json!({"precision": p, "recall": r, "f1": f}),
            );
            if f > best.1 {
                best = (i, f);
            }
        }
        let t = f64::from(best.0) / 100.0;
        let (p, r, f) = prf(t, shift);
        json!({"perThreshold": per, "optimalThreshold": t,
               "optimalMetrics": {"precision": p, "recall": r, "f1": f}})
    };
    let shift = |i: usize| 0.01 * i as f64;
    let refuse = |code: &str, message: &str| {
        Some(Reply::json(
            400,
            &json!({"error": code, "message": message}).to_string(),
        ))
    };
    if path.ends_with("/confidence-sweep") {
        let mut out = Map::new();
        for split in splits {
            let mut c = curve(0.0);
            let per_class: Map<String, Value> = classes
                .iter()
                .enumerate()
                .map(|(i, name)| ((*name).to_owned(), curve(shift(i))))
                .collect();
            c["perClass"] = Value::Object(per_class);
            out.insert((*split).to_owned(), c);
        }
        return Some(Reply::json(200, &json!({"splits": out}).to_string()));
    }
    if path.ends_with("/performance-by-class") {
        let split = param("split").unwrap_or("test");
        if !["train", "valid", "test"].contains(&split) {
            return refuse("invalid_split", "Invalid split");
        }
        let list: Vec<Value> = classes
            .iter()
            .enumerate()
            .map(|(i, name)| {
                if i + 1 == classes.len() {
                    return json!({"className": name, "map50": null, "map50_95": null,
                        "map75": null, "precision": 0, "recall": 0, "f1": 0,
                        "optimalThreshold": 0.5});
                }
                let c = curve(shift(i));
                json!({"className": name, "map50": 0.9, "map50_95": 0.7, "map75": 0.8,
                    "precision": c["optimalMetrics"]["precision"],
                    "recall": c["optimalMetrics"]["recall"],
                    "f1": c["optimalMetrics"]["f1"],
                    "optimalThreshold": c["optimalThreshold"]})
            })
            .collect();
        let body = json!({"taskType": "object-detection-like", "split": split, "classes": list});
        return Some(Reply::json(200, &body.to_string()));
    }
    if path.ends_with("/confusion-matrix") {
        let split = param("split").unwrap_or("test");
        if !["train", "valid", "test", "all"].contains(&split) {
            return refuse("invalid_split", "Invalid split");
        }
        let confidence = match param("confidence").map(str::parse::<u32>) {
            None => 20,
            Some(Ok(n)) if n <= 100 => n,
            Some(_) => return refuse("invalid_confidence", "out of range"),
        };
        let c = f64::from(confidence) / 100.0;
        let n = classes.len();
        let mut rows = Vec::new();
        for i in 0..n {
            let mut row = vec![0u64; n + 1];
            let found = 20 + 3 * i as u64;
            let missed = (found as f64 * c * (0.6 - skill)).round() as u64;
            row[i] = found;
            row[(i + 1) % n] += 1;
            row[n] = missed;
            rows.push(row);
        }
        let mut background = vec![(10.0 * (1.0 - c)).round() as u64; n];
        background.push(0);
        rows.push(background);
        let mut names: Vec<&str> = classes.to_vec();
        names.push("background");
        let body = json!({"split": split, "confidenceThreshold": c, "classes": names,
            "matrix": rows});
        return Some(Reply::json(200, &body.to_string()));
    }
    if path.ends_with("/image-predictions") {
        return Some(image_page(target, classes, skill, IMAGES));
    }
    None
}

/// How many images each split has in [`panel`]'s `image-predictions`: two pages of 1,000.
pub(crate) const IMAGES: u64 = 1_500;

/// A page of `image-predictions?split=&confidence=&limit=&offset=` over `total` images, as
/// documented: `limit` 200 by default and at most 1000, `split` `all` by default, ids the same
/// in every eval (`img-00000`…), one ground-truth object per image of class `k % 5`, found or
/// missed by a fixed pattern that `skill` and the confidence shift, and a false positive on
/// every tenth image; the `confusion` triples index `classes` and background (`classes.len()`).
pub(crate) fn image_page(target: &str, classes: &[&str], skill: f64, total: u64) -> Reply {
    use serde_json::json;
    let (_, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let split = param("split").unwrap_or("all");
    if !["train", "valid", "test", "all"].contains(&split) {
        return Reply::json(
            400,
            r#"{"error": "invalid_split", "message": "Invalid split"}"#,
        );
    }
    let confidence = match param("confidence").map(str::parse::<u32>) {
        None => 20,
        Some(Ok(n)) if n <= 100 => n,
        Some(_) => {
            return Reply::json(
                400,
                r#"{"error": "invalid_confidence", "message": "out of range"}"#,
            );
        }
    };
    let number =
        |name: &str, default: u64| param(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let limit = number("limit", 200).clamp(1, 1000);
    let offset = number("offset", 0);
    let c = f64::from(confidence) / 100.0;
    let n = classes.len() as u64;
    let miss = 0.1 + 0.2 * c - skill;
    let images: Vec<serde_json::Value> = (offset..total.min(offset + limit))
        .map(|k| {
            let class = k % n.min(5);
            let found = (k * 7919 % 100) as f64 / 100.0 >= miss;
            let fp = k % 10 == 0;
            let mut confusion = vec![if found {
                [class, class, 1]
            } else {
                [class, n, 1]
            }];
            if fp {
                confusion.push([n, class, 1]);
            }
            let (tp, fp, fn_) = (u64::from(found), u64::from(fp), u64::from(!found));
            json!({"imageId": format!("img-{k:05}"), "imageName": format!("img-{k:05}.jpg"),
                "split": split, "augmentations": 0,
                "cluster": {"id": k % 7, "embedding2D": [0.5, -1.5]},
                "stats": {"truePositives": tp, "falsePositives": fp, "falseNegatives": fn_},
                "confusion": confusion})
        })
        .collect();
    let body = json!({"split": split, "confidenceThreshold": c, "totalImages": total,
        "offset": offset, "limit": limit, "images": images});
    Reply::json(200, &body.to_string())
}
