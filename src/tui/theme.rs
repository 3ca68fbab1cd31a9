//! tui::theme: the screen's colours and text attributes. Owns the theme format (built-in
//! `themes/*.yaml`, compiled in, and user files merged over the default) and the look
//! without colour; never decides what a state means — panes pick a role, the theme styles
//! it — and never reads a file or the environment: the front-end's start-up does, and
//! hands the text over.
//!
//! Config comes in as strings and becomes typed `Style`s here, in one place: a theme file
//! sets any subset of roles (`ok: {fg: green, bold: true}`), and every role it leaves out
//! keeps the value of the theme it `extends` (default `dark`).

use ratatui::style::{Color, Modifier, Style};

/// The built-in themes, in the order `t` cycles through them.
pub(crate) const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
];

/// A theme the user can cause to fail: a name that is not built in, a file's text that does
/// not parse.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "--theme: unknown theme `{name}`{hint}; built-in themes are dark, light and high-contrast, or give the path of a theme file"
    )]
    Unknown { name: String, hint: String },
    #[error(
        "{origin}:{line}:{column}: error: {message}\n  hint: shipdeck's themes/dark.yaml sets every role, in the form each takes"
    )]
    Parse {
        origin: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error(
        "{origin}: error: `extends: {extends}` names no built-in theme\n  hint: use dark, light or high-contrast"
    )]
    Extends { origin: String, extends: String },
}

/// One role's style as a theme file writes it.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StyleSpec {
    #[serde(default, deserialize_with = "colour")]
    pub fg: Option<Color>,
    #[serde(default, deserialize_with = "colour")]
    pub bg: Option<Color>,
    pub(crate) bold: Option<bool>,
    pub(crate) dim: Option<bool>,
    pub(crate) italic: Option<bool>,
    pub(crate) underlined: Option<bool>,
    pub(crate) reversed: Option<bool>,
}

/// A colour as a theme file writes it: a name, an index 0-255, or `"#rrggbb"` (quoted, or
/// YAML reads it as a comment). A bad one is an error at its line and column.
fn colour<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Color>, D::Error> {
    struct Visitor;
    const EXPECTED: &str = "a colour: a name (red, lightblue, darkgray, reset, ...), an index 0-255, or \"#rrggbb\" in quotes";
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<Color>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.parse::<Color>()
                .map(Some)
                .map_err(|_| E::custom(format!("`{v}` is not {EXPECTED}")))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u8::try_from(v)
                .map(|i| Some(Color::Indexed(i)))
                .map_err(|_| E::custom(format!("`{v}` is not {EXPECTED}")))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map_err(|_| E::custom(format!("`{v}` is not {EXPECTED}")))
                .and_then(|v| self.visit_u64(v))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Visitor)
}

impl StyleSpec {
    /// This spec laid over `style`: what it names changes, the rest stays.
    fn over(&self, mut style: Style) -> Style {
        if let Some(fg) = self.fg {
            style.fg = Some(fg);
        }
        if let Some(bg) = self.bg {
            style.bg = Some(bg);
        }
        for (flag, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            style = match flag {
                Some(true) => style.add_modifier(modifier),
                Some(false) => style.remove_modifier(modifier),
                None => style,
            };
        }
        style
    }
}

/// Declares the roles once: the `Theme` (every role a `Style`), the `ThemeFile` (every role
/// optional) and the merge between them stay in step.
macro_rules! roles {
    ($($(#[$doc:meta])* $role:ident),* $(,)?) => {
        /// Every style the screen uses, by role.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            /// The theme's name (a built-in name or the file it came from).
            pub name: String,
            $($(#[$doc])* pub $role: Style,)*
        }

        /// A theme file: any subset of roles, over the theme it extends.
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemeFile {
            extends: Option<String>,
            $($role: Option<StyleSpec>,)*
        }

        impl Theme {
            fn merge(mut self, file: &ThemeFile) -> Theme {
                $(if let Some(spec) = &file.$role {
                    self.$role = spec.over(self.$role);
                })*
                self
            }

        }
    };
}

roles! {
    /// Ordinary text and the screen's background.
    text,
    /// Secondary text: labels, separators, hints.
    muted,
    /// Pane titles.
    title,
    border,
    /// The focused pane's border (also drawn thick, so focus shows without colour).
    border_focus,
    /// The header line.
    header,
    /// Key names in hints and help.
    key,
    ok,
    warn,
    /// Tripped guardrails, failed stages, refusals.
    bad,
    /// Stale or missing data.
    stale,
    /// The live percent, progress, emphasis.
    accent,
    /// The checklist cursor row.
    selected,
    ready,
    baking,
    awaiting,
    paused,
    rolling_back,
    rolled_back,
    watching,
    completed,
    /// Sparkline bars within the guardrail.
    spark,
    /// Sparkline bars at or past the guardrail.
    spark_breach,
    /// The symbol drawn for a missing sample.
    spark_missing,
    /// Where a guardrail fired.
    marker,
    gauge_done,
    gauge_todo,
    /// Popup body.
    popup,
    /// A loud condition (flag writes failing, journal unwritable, read-only follower).
    notice,
    status_ok,
    status_error,
    journal_action,
    journal_decision,
    journal_outside,
    journal_error,
    journal_note,
}

impl Theme {
    /// Attributes every theme starts from: with no colour at all the screen still reads.
    fn attributes() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let reversed = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        Theme {
            name: "attributes".into(),
            text: plain,
            muted: plain,
            title: bold,
            border: plain,
            border_focus: bold,
            header: bold,
            key: bold,
            ok: plain,
            warn: bold,
            bad: bold,
            stale: plain,
            accent: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            ready: bold,
            baking: bold,
            awaiting: reversed,
            paused: reversed,
            rolling_back: reversed,
            rolled_back: reversed,
            watching: bold,
            completed: bold,
            spark: plain,
            spark_breach: bold,
            spark_missing: plain,
            marker: bold,
            gauge_done: plain,
            gauge_todo: plain,
            popup: plain,
            notice: reversed,
            status_ok: plain,
            status_error: bold,
            journal_action: plain,
            journal_decision: plain,
            journal_outside: bold,
            journal_error: bold,
            journal_note: plain,
        }
    }

    /// The default theme (`dark`).
    pub fn dark() -> Theme {
        built_in(0)
    }

    /// The theme for `NO_COLOR`: no colour at all; state is told apart by glyphs, words,
    /// bold and reverse video.
    pub fn no_color() -> Theme {
        Theme {
            name: "no-color".into(),
            ..Theme::attributes()
        }
    }
}

/// Built-in theme `index` of [`BUILT_IN`]. The files are compiled in and checked by tests,
/// so a parse failure here cannot come from a user; it still degrades to plain attributes
/// rather than stopping the screen.
pub(crate) fn built_in(index: usize) -> Theme {
    let (name, text) = BUILT_IN[index % BUILT_IN.len()];
    parse(name, text, Theme::attributes()).unwrap_or_else(|_| Theme::attributes())
}

/// A built-in theme by its name.
pub fn named(name: &str) -> Option<Theme> {
    BUILT_IN.iter().position(|(n, _)| *n == name).map(built_in)
}

/// The error for a `--theme` that names neither a built-in theme nor a file, with the
/// nearest built-in name as a hint.
pub fn unknown(name: &str) -> ThemeError {
    let hint = crate::support::suggest::closest(name, BUILT_IN.map(|(n, _)| n))
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    ThemeError::Unknown {
        name: name.to_string(),
        hint,
    }
}

/// A theme file's text, read by the caller, merged over the theme it `extends` (default
/// `dark`). `origin` (the file's path) names the theme and locates its errors.
pub(crate) fn parse_file(origin: &str, text: &str) -> Result<Theme, ThemeError> {
    parse(origin, text, Theme::dark())
}

/// Parses theme text laid over `under` (or over the theme its `extends` names).
fn parse(origin: &str, text: &str, under: Theme) -> Result<Theme, ThemeError> {
    let file: ThemeFile = if text.trim().is_empty() {
        ThemeFile::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            ThemeError::Parse {
                origin: origin.to_string(),
                line,
                column,
                message: first_line(&e.to_string()),
            }
        })?
    };
    let base = match &file.extends {
        None => under,
        Some(name) => match BUILT_IN.iter().position(|(n, _)| n == name) {
            Some(i) if BUILT_IN[i].0 != origin => built_in(i),
            _ => {
                return Err(ThemeError::Extends {
                    origin: origin.to_string(),
                    extends: name.clone(),
                });
            }
        },
    };
    let mut theme = base.merge(&file);
    theme.name = origin.to_string();
    Ok(theme)
}

/// The message of a rendered parse error without its snippet or its own `error: line X
/// column Y:` prefix: the caller says where, as file:line:col.
fn first_line(rendered: &str) -> String {
    let mut line = rendered.lines().next().unwrap_or(rendered).trim();
    line = line.strip_prefix("error: ").unwrap_or(line);
    if line.starts_with("line ")
        && let Some(i) = line.find(": ")
    {
        line = &line[i + 2..];
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_parses_and_differs() {
        let mut seen = Vec::new();
        for (name, text) in BUILT_IN {
            let theme = parse(name, text, Theme::attributes()).unwrap();
            assert_eq!(theme.name, name);
            assert!(theme.text.fg.is_some(), "{name} sets a text colour");
            assert!(!seen.contains(&theme.ok), "{name} has its own ok colour");
            seen.push(theme.ok);
        }
    }

    #[test]
    fn partial_file_can_extend_another_built_in() {
        let theme = parse(
            "t.yaml",
            "extends: light\nbad: {bold: false}\n",
            Theme::dark(),
        )
        .unwrap();
        let light = built_in(1);
        assert_eq!(theme.text, light.text);
        assert_eq!(theme.bad.fg, light.bad.fg);
        assert!(!theme.bad.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn broken_file_names_line_and_column() {
        let err = parse(
            "t.yaml",
            "ok: {fg: green}\nwarn: {fg: 12}\nbda: {fg: red}\n",
            Theme::dark(),
        )
        .unwrap_err();
        match &err {
            ThemeError::Parse { line, column, .. } => {
                assert_eq!((*line, *column), (3, 1), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with("t.yaml:3:1: error: "), "{err}");
        assert!(err.to_string().contains("\n  hint: "), "{err}");
        assert!(err.to_string().contains("bda"), "{err}");
    }

    #[test]
    fn bad_colour_names_line_and_column() {
        let err = parse("t.yaml", "ok:\n  fg: greeen\n", Theme::dark()).unwrap_err();
        match &err {
            ThemeError::Parse { line, .. } => assert_eq!(*line, 2, "{err}"),
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.starts_with("t.yaml:2:"), "{text}");
        assert!(text.contains(": error: `greeen` is not a colour"), "{text}");
        assert!(text.contains("`greeen` is not a colour"), "{text}");
        let theme = parse("t.yaml", "ok: {fg: 12, bg: \"#102030\"}\n", Theme::dark()).unwrap();
        assert_eq!(theme.ok.fg, Some(Color::Indexed(12)));
        assert_eq!(theme.ok.bg, Some(Color::Rgb(16, 32, 48)));
    }

    #[test]
    fn no_color_strips_colours_and_keeps_attributes() {
        let theme = Theme::no_color();
        assert_eq!(theme.bad.fg, None);
        assert_eq!(theme.text.bg, None);
        assert!(theme.bad.add_modifier.contains(Modifier::BOLD));
        assert!(theme.selected.add_modifier.contains(Modifier::REVERSED));
    }
}
