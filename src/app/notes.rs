//! notes: the plan's release notes as Markdown in the reference shape — "Version 2.5.0 -
//! March 15, 2025", then New Features, Improvements, Bug Fixes and Breaking Changes, empty
//! sections left out. Owns the rendering only; never reads files or the clock.

use chrono::NaiveDate;

use crate::plan::Release;
use crate::support::escape::shown;

/// `2025-03-15` → `March 15, 2025`; any other text is kept as written.
pub(crate) fn format_date(date: &str) -> String {
    match NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d") {
        Ok(d) => d.format("%B %-d, %Y").to_string(),
        Err(_) => date.trim().to_string(),
    }
}

/// True when the plan has no notes at all.
pub fn is_empty(release: &Release) -> bool {
    let n = &release.notes;
    n.features.is_empty()
        && n.improvements.is_empty()
        && n.fixes.is_empty()
        && n.breaking.is_empty()
}

/// The release notes; `today` dates them when the plan gives no `date`. `emoji` adds the
/// reference's section marks (✨ 🔧 🐛 ⚠️).
pub fn markdown(release: &Release, today: NaiveDate, emoji: bool) -> String {
    let n = &release.notes;
    let date = n
        .date
        .as_deref()
        .map(|d| shown(&format_date(d)).into_owned())
        .unwrap_or_else(|| today.format("%B %-d, %Y").to_string());
    let mut out = format!("## Version {} - {date}\n", shown(&release.version));
    let sections: [(&str, &str, &[String]); 4] = [
        ("✨", "New Features", &n.features),
        ("🔧", "Improvements", &n.improvements),
        ("🐛", "Bug Fixes", &n.fixes),
        ("⚠️", "Breaking Changes", &n.breaking),
    ];
    for (mark, title, items) in sections {
        if items.is_empty() {
            continue;
        }
        out.push('\n');
        if emoji {
            out.push_str(&format!("### {mark} {title}\n\n"));
        } else {
            out.push_str(&format!("### {title}\n\n"));
        }
        for item in items {
            // A multi-line item stays one bullet: continuation lines are indented under it.
            // Any other control character is shown escaped.
            let mut lines = item.trim().lines();
            let first = lines.next().unwrap_or_default().trim();
            out.push_str(&format!("- {}\n", shown(first)));
            for l in lines {
                out.push_str(&format!("  {}\n", shown(l.trim())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ReleaseNotes, Strategy};

    fn release(notes: ReleaseNotes) -> Release {
        Release {
            name: "checkout-v2".into(),
            version: "2.5.0".into(),
            owner: None,
            strategy: Strategy::Canary,
            notes,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()
    }

    #[test]
    fn the_reference_example_comes_out_in_the_reference_order() {
        let r = release(ReleaseNotes {
            date: Some("2025-03-15".into()),
            features: vec![
                "Dashboard: Real-time analytics view".into(),
                "Reports: Custom date range selection".into(),
            ],
            improvements: vec!["Search: 50% faster results".into()],
            fixes: vec!["Fixed: Timezone display issue".into()],
            breaking: vec!["API v1 deprecated (sunset: June 2025)".into()],
        });
        assert_eq!(
            markdown(&r, today(), true),
            "## Version 2.5.0 - March 15, 2025\n\
             \n### ✨ New Features\n\n\
             - Dashboard: Real-time analytics view\n\
             - Reports: Custom date range selection\n\
             \n### 🔧 Improvements\n\n- Search: 50% faster results\n\
             \n### 🐛 Bug Fixes\n\n- Fixed: Timezone display issue\n\
             \n### ⚠️ Breaking Changes\n\n- API v1 deprecated (sunset: June 2025)\n"
        );
    }

    #[test]
    fn empty_sections_are_left_out_and_today_dates_undated_notes() {
        let r = release(ReleaseNotes {
            fixes: vec!["Fixed: a\nsecond line".into()],
            ..Default::default()
        });
        let md = markdown(&r, today(), false);
        assert_eq!(
            md,
            "## Version 2.5.0 - January 2, 2026\n\n### Bug Fixes\n\n- Fixed: a\n  second line\n"
        );
        assert!(!is_empty(&r));
        assert!(is_empty(&release(ReleaseNotes::default())));
    }

    #[test]
    fn dates_that_are_not_iso_are_kept() {
        assert_eq!(format_date("2025-03-05"), "March 5, 2025");
        assert_eq!(format_date("Q2 2025"), "Q2 2025");
    }
}
