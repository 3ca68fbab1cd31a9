//! tui::chart: one metric series as a tall chart, for the war-room view — bars of the
//! newest cells on the sparkline's honest scale (the window, the cells and the scale are
//! `spark`'s: from zero up to the next limit the values are heading for, past every limit
//! to the largest value), with each guardrail's limit on that scale drawn across as a
//! dashed line and named at its row. A line holds where the values stay on its healthy
//! side; a bar that crosses it breaks it, in the colour of what it crossed. A limit above
//! the top is named there with `↑`, and drawn once the values climb towards it. Draws
//! lines only; the limits are the engine's.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::spark::{self, Cell, LEVELS, Limit, MISSING, Runs, Scale, Spark, TRIP};
use super::{App, fit};
use crate::engine::guardrail::format_value;
use crate::plan::{Action, Unit};

/// The glyph of a limit's line.
const LINE: char = '╌';

/// A limit as its row names it: `╌ rollback 5.00%`, or `↑ alert 2.00s` above the top.
pub(crate) fn label(limit: &Limit, unit: Unit, above_top: bool) -> String {
    let mark = if above_top { '↑' } else { LINE };
    format!(
        "{mark} {} {}",
        limit.action.name(),
        format_value(limit.value, unit)
    )
}

/// The style a limit is drawn in: a rollback's in the breach colour, the rest in the
/// warning colour, as the rule rows colour them.
fn limit_style(app: &App, action: Action) -> Style {
    if action == Action::Rollback {
        app.theme().bad
    } else {
        app.theme().warn
    }
}

/// What one column of the chart shows.
#[derive(Debug, Clone, Copy)]
enum Column {
    Blank,
    Missing,
    /// A bar of `value`, `eighths` high.
    Bar {
        value: f64,
        eighths: usize,
        style: Style,
    },
}

/// One limit on the chart: the row (from the bottom) a bar exactly at it tops out in, or
/// `None` above the top.
struct Drawn<'l> {
    limit: &'l Limit,
    row: Option<usize>,
}

/// The chart of `spark`'s newest `width` cells in `rows` rows, top row first, each row
/// `width` columns of bars and then `label_w` columns naming the limits. Returns the
/// scale it drew on, for the caller to say.
pub(crate) fn lines(
    app: &App,
    spark: Option<&Spark>,
    limits: &[Limit],
    unit: Unit,
    (width, label_w): (usize, usize),
    rows: usize,
) -> (Vec<Line<'static>>, Scale) {
    let theme = app.theme();
    let (cells, trips) = spark::newest(spark, width);
    let scale = spark::scale(&cells, limits, unit);
    let columns: Vec<Column> = cells
        .iter()
        .map(|c| match c {
            Cell::Blank => Column::Blank,
            Cell::Missing => Column::Missing,
            Cell::Value(v) => Column::Bar {
                value: *v,
                eighths: scale.eighths(*v, rows),
                style: spark::cell_style(app, *v, limits),
            },
        })
        .collect();
    let drawn: Vec<Drawn> = limits
        .iter()
        .map(|limit| Drawn {
            limit,
            row: (!limit.above || limit.value <= scale.top)
                .then(|| (scale.eighths(limit.value, rows).max(1) - 1) / 8),
        })
        .collect();
    let labels = place_labels(&drawn, unit, rows);
    let mut out = Vec::with_capacity(rows);
    for r in (0..rows).rev() {
        // The row's line: the most severe limit on it draws it.
        let here: Vec<&Limit> = drawn
            .iter()
            .filter(|d| d.row == Some(r))
            .map(|d| d.limit)
            .collect();
        let line = here
            .iter()
            .map(|l| limit_style(app, l.action))
            .max_by_key(|s| *s == theme.bad);
        // A bar on the healthy side of every limit here leaves the line whole.
        let holds = |v: f64| {
            !here.is_empty()
                && here
                    .iter()
                    .all(|l| if l.above { v <= l.value } else { v >= l.value })
        };
        let mut runs = Runs::default();
        for (i, col) in columns.iter().enumerate() {
            let empty = line.map_or((' ', theme.text), |s| (LINE, s));
            let (ch, style) = match *col {
                Column::Bar {
                    value,
                    eighths,
                    style,
                } => {
                    let top = (eighths.max(1) - 1) / 8;
                    let fill = eighths.saturating_sub(r * 8).min(8);
                    let marker = r == top + 1 || (r == top && top + 1 == rows);
                    if trips.contains(&i) && marker {
                        (TRIP, theme.marker)
                    } else if fill == 0 || holds(value) {
                        empty
                    } else {
                        (LEVELS[fill - 1], style)
                    }
                }
                Column::Missing if r == 0 && line.is_none() => (MISSING, theme.spark_missing),
                Column::Blank | Column::Missing => empty,
            };
            runs.push(ch, style);
        }
        let mut spans = runs.spans();
        if label_w > 0 {
            let (text, style) = labels
                .iter()
                .find(|(at, _, _)| *at == r)
                .map(|(_, t, a)| (t.clone(), limit_style(app, *a)))
                .unwrap_or_default();
            spans.push(Span::styled(
                format!(" {:<w$}", fit(&text, label_w - 1), w = label_w - 1),
                style,
            ));
        }
        out.push(Line::from(spans));
    }
    (out, scale)
}

/// Each limit's label on its own row: its line's, or the nearest free one to it when
/// another limit's label took that; the limits above the top, nearest first, in the free
/// rows nearest it. The lines' labels go first, highest first, so each sits by its line
/// when it can.
fn place_labels(drawn: &[Drawn], unit: Unit, rows: usize) -> Vec<(usize, String, Action)> {
    let top = rows.saturating_sub(1);
    let mut sorted: Vec<&Drawn> = drawn.iter().collect();
    let key = |d: &Drawn| match d.row {
        Some(_) => (0, -d.limit.value),
        None => (1, d.limit.value),
    };
    sorted.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut placed: Vec<(usize, String, Action)> = Vec::new();
    for d in sorted {
        let want = d.row.unwrap_or(top);
        let free = (0..rows)
            .filter(|r| !placed.iter().any(|(at, _, _)| at == r))
            .min_by_key(|r| (r.abs_diff(want), usize::MAX - r));
        if let Some(r) = free {
            placed.push((r, label(d.limit, unit, d.row.is_none()), d.limit.action));
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(value: f64, action: Action) -> Limit {
        Limit {
            value,
            action,
            above: true,
        }
    }

    fn spark_of(values: &[f64], trips: Vec<usize>) -> Spark {
        let cells: Vec<Cell> = values.iter().map(|v| Cell::Value(*v)).collect();
        Spark {
            key: spark::test_key(cells.len()),
            cells,
            trips,
        }
    }

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn draw(values: &[f64], trips: Vec<usize>, limits: &[Limit], labels: usize) -> Vec<String> {
        let app = App::default();
        let spark = spark_of(values, trips);
        let width = values.len();
        text(&lines(&app, Some(&spark), limits, Unit::Ratio, (width, labels), 4).0)
    }

    #[test]
    fn bars_climb_through_the_lines_of_every_limit_they_pass() {
        // 5.00% is not past the rollback limit of 5.00%: the line holds over it.
        let limits = [limit(0.01, Action::Pause), limit(0.05, Action::Rollback)];
        assert_eq!(
            draw(
                &[0.001, 0.001, 0.012, 0.03, 0.05, 0.06],
                vec![2],
                &limits,
                18
            ),
            [
                "╌╌╌╌╌█ ╌ rollback 5.00% ",
                "    ██                  ",
                "  ◆███                  ",
                "╌╌▆███ ╌ pause 1.00%    ",
            ]
        );
    }

    #[test]
    fn below_every_limit_the_top_is_the_next_one_and_the_rest_are_named_above() {
        let limits = [limit(0.01, Action::Pause), limit(0.05, Action::Rollback)];
        let (_, scale) = lines(
            &App::default(),
            Some(&spark_of(&[0.001; 3], vec![])),
            &limits,
            Unit::Ratio,
            (3, 0),
            4,
        );
        assert!((scale.top - 0.01).abs() < 1e-9, "up to the pause limit");
        // The line holds over the values below it in its row; the bars show under it.
        assert_eq!(
            draw(&[0.002, 0.005, 0.009], vec![], &limits, 18),
            [
                "╌╌╌ ╌ pause 1.00%    ",
                "  █ ↑ rollback 5.00% ",
                " ██                  ",
                "▆██                  ",
            ]
        );
    }

    #[test]
    fn limits_above_the_top_are_named_nearest_first_under_it() {
        let limits = [
            limit(0.37, Action::Rollback),
            limit(0.93, Action::Rollback),
            limit(2.0, Action::Alert),
        ];
        let drawn = draw(&[0.3, 0.31, 0.3], vec![], &limits, 18);
        assert_eq!(
            drawn,
            [
                "╌╌╌ ╌ rollback 37%   ",
                "███ ↑ rollback 93%   ",
                "███ ↑ alert 200%     ",
                "███                  ",
            ],
            "{drawn:#?}"
        );
    }
}
