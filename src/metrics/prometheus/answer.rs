//! metrics::prometheus::answer: the API's answers. Owns reading one HTTP answer (status
//! and body) into a value, no data, or a sentence an operator can act on; never panics on
//! any bytes, and never takes NaN or ±Inf for a number.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::engine::values::Outcome;

/// How much of an unexpected body an error message quotes.
const SNIPPET_BYTES: usize = 120;

/// What messages about an answer need to know about where it came from.
pub(super) struct Origin<'a> {
    /// The server's URL as the plan gave it (no credentials in it).
    pub(super) base: &'a str,
    pub(super) credential: Option<Presented<'a>>,
}

/// The credential sent, as a message may name it: where it came from, never its value.
#[derive(Clone, Copy)]
pub(super) enum Presented<'a> {
    Bearer { var: &'a str },
    Basic { username: &'a str, var: &'a str },
}

/// The API's envelope: `{"status": "success", "data": ...}` or
/// `{"status": "error", "errorType": ..., "error": ...}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
    Scalar(Point),
    /// Never a number; its content does not matter.
    String(serde::de::IgnoredAny),
}

/// `[<unix seconds>, "<value>"]`: values travel as strings so NaN and ±Inf survive JSON.
type Point = (f64, String);

#[derive(Debug, Deserialize)]
struct InstantSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for native histograms, which carry `histogram` instead.
    value: Option<Point>,
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Point>,
}

/// The answer to an instant query for `series`: its value, no data, or why not.
pub(super) fn instant_answer(
    series: &str,
    status: u16,
    body: &[u8],
    origin: &Origin<'_>,
) -> Outcome {
    match decode(status, body, origin) {
        Ok(data) => instant_outcome(series, data),
        Err(text) => Outcome::Error(text),
    }
}

/// The points of the answer to a range query for `series`, keyed by epoch ms; `Err` is
/// the sentence an operator sees for the whole range.
pub(super) fn range_answer(
    series: &str,
    status: u16,
    body: &[u8],
    origin: &Origin<'_>,
) -> Result<Vec<(i64, Outcome)>, String> {
    range_points(series, decode(status, body, origin)?)
}

/// Reads one HTTP answer of the API; `Err` is the sentence an operator sees.
fn decode(status: u16, body: &[u8], origin: &Origin<'_>) -> Result<Data, String> {
    if status == 401 || status == 403 {
        return Err(match origin.credential {
            Some(Presented::Bearer { var }) => format!(
                "{} rejected the bearer token (HTTP {status}); check the token in ${var}",
                origin.base
            ),
            Some(Presented::Basic { username, var }) => format!(
                "{} rejected user `{username}` (HTTP {status}); check the password in ${var} \
                 and the `basic_auth` username",
                origin.base
            ),
            None => format!(
                "{} needs credentials (HTTP {status}); set `token_env` (a bearer token) or \
                 `basic_auth` in the metrics source",
                origin.base
            ),
        });
    }
    let ok = (200..300).contains(&status);
    let envelope = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope,
        Err(_) if ok => {
            return Err(format!(
                "{} answered with a body that is not Prometheus API JSON: `{}`; is the url the \
                 server's base (not a web page or a proxy)?",
                origin.base,
                snippet(body)
            ));
        }
        Err(_) => {
            return Err(format!(
                "{} answered HTTP {status}: `{}`",
                origin.base,
                snippet(body)
            ));
        }
    };
    if envelope.status != "success" || !ok {
        let kind = envelope.error_type.as_deref().unwrap_or("error");
        let message = envelope
            .error
            .as_deref()
            .unwrap_or("no message")
            .to_string();
        return Err(format!(
            "Prometheus refused the query (HTTP {status}, {kind}): {message}"
        ));
    }
    envelope.data.ok_or_else(|| {
        format!(
            "{} answered success without `data`; is it a Prometheus-compatible API?",
            origin.base
        )
    })
}

fn number(series: &str, raw: &str) -> Outcome {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Outcome::Value(v),
        // NaN (0/0 on no traffic) and ±Inf mean "no meaningful value", never a number.
        Ok(_) => Outcome::NoData,
        Err(_) => Outcome::Error(format!(
            "series `{series}`: the value `{}` is not a number",
            raw.chars().take(40).collect::<String>()
        )),
    }
}

fn labels(metric: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = metric.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn too_many(series: &str, metrics: Vec<&BTreeMap<String, String>>) -> String {
    let shown: Vec<String> = metrics.iter().take(3).map(|m| labels(m)).collect();
    let more = if metrics.len() > 3 { ", …" } else { "" };
    format!(
        "series `{series}`: the query returned {} series ({}{more}); aggregate it to one, \
         e.g. sum(...) or max(...)",
        metrics.len(),
        shown.join(", ")
    )
}

fn instant_outcome(series: &str, data: Data) -> Outcome {
    match data {
        Data::Vector(samples) => match samples.as_slice() {
            [] => Outcome::NoData,
            [one] => match &one.value {
                Some((_, raw)) => number(series, raw),
                None => Outcome::Error(format!(
                    "series `{series}`: the sample has no plain value (a native histogram?); \
                     query a number, e.g. with histogram_quantile(...)"
                )),
            },
            many => Outcome::Error(too_many(series, many.iter().map(|s| &s.metric).collect())),
        },
        Data::Scalar((_, raw)) => number(series, &raw),
        Data::Matrix(_) => Outcome::Error(format!(
            "series `{series}`: the query returns a range vector; wrap it in a function \
             such as rate(...[5m]) or drop the `[...]`"
        )),
        Data::String(_) => Outcome::Error(format!(
            "series `{series}`: the query returns a string, not a number"
        )),
    }
}

/// The points of a range answer keyed by epoch ms; an empty matrix has no points.
fn range_points(series: &str, data: Data) -> Result<Vec<(i64, Outcome)>, String> {
    match data {
        Data::Matrix(all) => match all.as_slice() {
            [] => Ok(Vec::new()),
            [one] => Ok(one
                .values
                .iter()
                .filter(|(t, _)| t.is_finite())
                .map(|(t, raw)| ((t * 1000.0).round() as i64, number(series, raw)))
                .collect()),
            many => Err(too_many(series, many.iter().map(|s| &s.metric).collect())),
        },
        Data::Vector(_) | Data::Scalar(_) | Data::String(_) => Err(format!(
            "series `{series}`: the range query did not return a matrix; is the url a \
             Prometheus-compatible API?"
        )),
    }
}

/// The start of an unexpected body, printable and on one line.
fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET_BYTES)];
    let text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > SNIPPET_BYTES {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORIGIN: Origin<'static> = Origin {
        base: "http://prom:9090",
        credential: None,
    };

    fn instant(body: &str) -> Outcome {
        instant_answer("error_rate", 200, body.as_bytes(), &ORIGIN)
    }

    fn error_text(outcome: Outcome) -> String {
        match outcome {
            Outcome::Error(text) => text,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn one_sample_is_a_value() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1700000000.5,"0.0125"]}]}}"#;
        assert_eq!(instant(body), Outcome::Value(0.0125));
    }

    #[test]
    fn empty_vector_is_no_data_never_zero() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(instant(body), Outcome::NoData);
    }

    #[test]
    fn several_samples_ask_to_aggregate() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"code":"200"},"value":[1,"1"]},
            {"metric":{"code":"500"},"value":[1,"2"]}]}}"#;
        let text = error_text(instant(body));
        assert!(text.contains("`error_rate`"), "{text}");
        assert!(text.contains("2 series"), "{text}");
        assert!(text.contains("code=\"500\""), "{text}");
        assert!(text.contains("sum("), "{text}");
    }

    #[test]
    fn scalars_count_and_non_finite_values_are_missing() {
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}}"#;
        assert_eq!(instant(scalar), Outcome::Value(0.5));
        for raw in ["NaN", "+Inf", "-Inf"] {
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{raw}"]}}]}}}}"#
            );
            assert_eq!(instant(&body), Outcome::NoData, "{raw}");
        }
        let junk = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}"#;
        assert!(error_text(instant(junk)).contains("`abc` is not a number"));
    }

    #[test]
    fn strings_matrices_and_native_histograms_are_errors() {
        let string = r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(error_text(instant(string)).contains("string"));
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(error_text(instant(matrix)).contains("range vector"));
        let native = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"histogram":[1,{"count":"1"}]}]}}"#;
        assert!(error_text(instant(native)).contains("native histogram"));
    }

    #[test]
    fn prometheus_errors_are_shown_in_its_own_words() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}"#;
        let text = decode(400, body, &ORIGIN).unwrap_err();
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("bad_data"), "{text}");
        assert!(text.contains("unclosed left parenthesis"), "{text}");
    }

    #[test]
    fn bodies_that_are_not_json_are_quoted() {
        let text = decode(200, b"<html><body>Grafana login</body></html>", &ORIGIN).unwrap_err();
        assert!(text.contains("not Prometheus API JSON"), "{text}");
        assert!(text.contains("<html><body>Grafana"), "{text}");
        let text = decode(502, b"Bad Gateway\r\n", &ORIGIN).unwrap_err();
        assert!(
            text.contains("HTTP 502") && text.contains("Bad Gateway"),
            "{text}"
        );
        let long = vec![b'x'; 10_000];
        let text = decode(200, &long, &ORIGIN).unwrap_err();
        assert!(text.len() < 400, "the quote is bounded: {}", text.len());
    }

    #[test]
    fn rejected_credentials_name_the_env_var() {
        let with = Origin {
            base: "http://prom:9090",
            credential: Some(Presented::Bearer { var: "PROM_TOKEN" }),
        };
        let text = decode(401, b"", &with).unwrap_err();
        assert!(
            text.contains("$PROM_TOKEN") && text.contains("401"),
            "{text}"
        );
        let basic = Origin {
            base: "https://prom:9090",
            credential: Some(Presented::Basic {
                username: "grafana",
                var: "PROM_PASSWORD",
            }),
        };
        let text = decode(401, b"", &basic).unwrap_err();
        assert!(
            text.contains("https://prom:9090")
                && text.contains("`grafana`")
                && text.contains("$PROM_PASSWORD")
                && text.contains("401"),
            "{text}"
        );
        let text = decode(403, b"{}", &ORIGIN).unwrap_err();
        assert!(text.contains("token_env") && text.contains("403"), "{text}");
    }

    #[test]
    fn success_without_data_is_an_error() {
        let text = decode(200, br#"{"status":"success"}"#, &ORIGIN).unwrap_err();
        assert!(text.contains("without `data`"), "{text}");
    }

    #[test]
    fn range_answers_become_points_by_millisecond() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000,"1"],[1700000015.5,"NaN"]]}]}}"#;
        let data = decode(200, body, &ORIGIN).unwrap();
        let points = range_points("cpu", data).unwrap();
        assert_eq!(
            points,
            vec![
                (1_700_000_000_000, Outcome::Value(1.0)),
                (1_700_000_015_500, Outcome::NoData)
            ]
        );
        let empty = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(
            range_points("cpu", decode(200, empty, &ORIGIN).unwrap())
                .unwrap()
                .is_empty()
        );
        let two = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"a":"1"},"values":[]},{"metric":{"a":"2"},"values":[]}]}}"#;
        let text = range_points("cpu", decode(200, two, &ORIGIN).unwrap()).unwrap_err();
        assert!(
            text.contains("`cpu`") && text.contains("aggregate"),
            "{text}"
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            prop_oneof![
                Just("success".to_string()),
                Just("error".to_string()),
                Just("vector".to_string()),
                Just("matrix".to_string()),
                Just("scalar".to_string()),
                Just("NaN".to_string()),
                Just("+Inf".to_string()),
                "[a-z0-9.\\-]{0,8}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("status".to_string()),
                Just("data".to_string()),
                Just("resultType".to_string()),
                Just("result".to_string()),
                Just("metric".to_string()),
                Just("value".to_string()),
                Just("values".to_string()),
                Just("errorType".to_string()),
                Just("error".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn read_everything(status: u16, body: &[u8]) {
        if let Ok(data) = decode(status, body, &ORIGIN) {
            let _ = instant_outcome("s", data);
        }
        if let Ok(data) = decode(status, body, &ORIGIN) {
            let _ = range_points("s", data);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(status in 0u16..1000, body in prop::collection::vec(any::<u8>(), 0..512)) {
            read_everything(status, &body);
        }

        #[test]
        fn any_json_never_panics(status in prop_oneof![Just(200u16), Just(400), Just(422), Just(503), 0u16..1000], value in json_value()) {
            let body = serde_json::to_vec(&value).unwrap();
            read_everything(status, &body);
        }

        #[test]
        fn a_single_sample_reads_back_as_itself(v in any::<f64>(), t in -1e10f64..1e10) {
            let body = serde_json::json!({
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [t, v.to_string()]}]}
            });
            let outcome = instant(&body.to_string());
            if v.is_finite() {
                prop_assert_eq!(outcome, Outcome::Value(v));
            } else {
                prop_assert_eq!(outcome, Outcome::NoData);
            }
        }
    }
}
