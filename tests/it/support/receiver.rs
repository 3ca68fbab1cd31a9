//! A real HTTP receiver on loopback for notifications: records every JSON post (path,
//! headers, body) and answers as the test says — as Slack, PagerDuty or any webhook
//! would, or not at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Post {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Post {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The status and body to answer with; `None` reads the post and never answers.
pub type Answer = Option<(u16, String)>;

pub struct Receiver {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    pub async fn start(answer: impl Fn(&Post) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&posts);
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let record = Arc::clone(&record);
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    // One request per connection: every answer says `Connection: close`.
                    let Some(post) = read_request(&mut socket).await else {
                        return;
                    };
                    let reply = answer(&post);
                    record.lock().unwrap().push(post);
                    let Some((status, body)) = reply else {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Receiver { base, posts }
    }

    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The posts to one path, in the order they arrived.
    pub fn posts_to(&self, path: &str) -> Vec<Post> {
        self.posts()
            .into_iter()
            .filter(|p| p.path == path)
            .collect()
    }
}

/// A POST with a JSON body: headers up to the blank line, then `Content-Length` bytes.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Post> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.lines();
    let request = lines.next()?.to_string();
    assert!(request.starts_with("POST "), "{head}");
    let path = request.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let post = |body| Post {
        path: path.clone(),
        headers: headers.clone(),
        body,
    };
    assert!(
        post(serde_json::Value::Null)
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{head}"
    );
    let len: usize = post(serde_json::Value::Null)
        .header("content-length")?
        .parse()
        .ok()?;
    while buf.len() < header_end + len {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..header_end + len]).ok()?;
    Some(post(body))
}
