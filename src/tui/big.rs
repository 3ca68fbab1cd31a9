//! tui::big: text in large block letters, for the war-room view — read across a room. A
//! 3×5 pixel font drawn two ways: `Large`, each pixel two cells wide and one tall (five
//! rows); `Medium`, each pixel one cell wide and half a row tall, with half blocks (three
//! rows). Both keep pixels square on a terminal's tall cells. Letters only: which text,
//! where and in what style is the caller's; a text the font cannot draw is `None`, and the
//! caller writes it in ordinary letters instead.

/// How large the letters are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// Five rows, seven columns a letter.
    Large,
    /// Three rows, four columns a letter.
    Medium,
}

impl Size {
    /// Rows the letters take.
    pub(crate) const fn rows(self) -> usize {
        match self {
            Size::Large => 5,
            Size::Medium => 3,
        }
    }

    /// Columns one letter and the gap after it take.
    const fn advance(self) -> usize {
        match self {
            Size::Large => 7,
            Size::Medium => 4,
        }
    }
}

/// The glyphs, five rows of three pixels each (`#` set).
const FONT: [(char, [&str; 5]); 45] = [
    ('A', [".#.", "#.#", "###", "#.#", "#.#"]),
    ('B', ["##.", "#.#", "##.", "#.#", "##."]),
    ('C', [".##", "#..", "#..", "#..", ".##"]),
    ('D', ["##.", "#.#", "#.#", "#.#", "##."]),
    ('E', ["###", "#..", "##.", "#..", "###"]),
    ('F', ["###", "#..", "##.", "#..", "#.."]),
    ('G', [".##", "#..", "#.#", "#.#", ".##"]),
    ('H', ["#.#", "#.#", "###", "#.#", "#.#"]),
    ('I', ["###", ".#.", ".#.", ".#.", "###"]),
    ('J', ["..#", "..#", "..#", "#.#", ".#."]),
    ('K', ["#.#", "#.#", "##.", "#.#", "#.#"]),
    ('L', ["#..", "#..", "#..", "#..", "###"]),
    ('M', ["#.#", "###", "###", "#.#", "#.#"]),
    ('N', ["##.", "#.#", "#.#", "#.#", "#.#"]),
    ('O', [".#.", "#.#", "#.#", "#.#", ".#."]),
    ('P', ["##.", "#.#", "##.", "#..", "#.."]),
    ('Q', [".#.", "#.#", "#.#", "##.", ".##"]),
    ('R', ["##.", "#.#", "##.", "#.#", "#.#"]),
    ('S', [".##", "#..", ".#.", "..#", "##."]),
    ('T', ["###", ".#.", ".#.", ".#.", ".#."]),
    ('U', ["#.#", "#.#", "#.#", "#.#", "###"]),
    ('V', ["#.#", "#.#", "#.#", "#.#", ".#."]),
    ('W', ["#.#", "#.#", "###", "###", "#.#"]),
    ('X', ["#.#", "#.#", ".#.", "#.#", "#.#"]),
    ('Y', ["#.#", "#.#", ".#.", ".#.", ".#."]),
    ('Z', ["###", "..#", ".#.", "#..", "###"]),
    ('0', ["###", "#.#", "#.#", "#.#", "###"]),
    ('1', [".#.", "##.", ".#.", ".#.", "###"]),
    ('2', ["##.", "..#", ".#.", "#..", "###"]),
    ('3', ["##.", "..#", ".#.", "..#", "##."]),
    ('4', ["#.#", "#.#", "###", "..#", "..#"]),
    ('5', ["###", "#..", "##.", "..#", "##."]),
    ('6', [".##", "#..", "###", "#.#", "###"]),
    ('7', ["###", "..#", ".#.", ".#.", ".#."]),
    ('8', ["###", "#.#", "###", "#.#", "###"]),
    ('9', ["###", "#.#", "###", "..#", "##."]),
    (' ', ["...", "...", "...", "...", "..."]),
    ('%', ["#.#", "..#", ".#.", "#..", "#.#"]),
    ('.', ["...", "...", "...", "...", ".#."]),
    (',', ["...", "...", "...", ".#.", "#.."]),
    (':', ["...", ".#.", "...", ".#.", "..."]),
    ('-', ["...", "...", "###", "...", "..."]),
    ('/', ["..#", "..#", ".#.", "#..", "#.."]),
    ('≤', ["..#", ".#.", "..#", "...", "###"]),
    ('≥', ["#..", ".#.", "#..", "...", "###"]),
];

fn glyph(c: char) -> Option<&'static [&'static str; 5]> {
    let c = c.to_ascii_uppercase();
    FONT.iter().find(|(g, _)| *g == c).map(|(_, rows)| rows)
}

/// The columns `text` takes at `size` (no gap after the last letter).
pub(crate) fn width(text: &str, size: Size) -> usize {
    (text.chars().count() * size.advance()).saturating_sub(size.advance() - 3 * pixel_w(size))
}

/// Cells one pixel is wide.
const fn pixel_w(size: Size) -> usize {
    match size {
        Size::Large => 2,
        Size::Medium => 1,
    }
}

/// `text` (in capitals) as rows of block characters at `size`, each row [`width`] wide;
/// `None` when the font has no glyph for one of its characters.
pub(crate) fn rows(text: &str, size: Size) -> Option<Vec<String>> {
    let glyphs: Vec<&[&str; 5]> = text.chars().map(glyph).collect::<Option<_>>()?;
    let pixel = |g: &[&str; 5], row: usize, col: usize| {
        g.get(row)
            .and_then(|r| r.as_bytes().get(col))
            .is_some_and(|b| *b == b'#')
    };
    let gap = " ".repeat(size.advance() - 3 * pixel_w(size));
    let out = (0..size.rows())
        .map(|row| {
            let letters: Vec<String> = glyphs
                .iter()
                .map(|g| {
                    (0..3)
                        .map(|col| match size {
                            Size::Large => {
                                if pixel(g, row, col) {
                                    "██"
                                } else {
                                    "  "
                                }
                            }
                            // Two pixel rows to a cell: the upper in its top half.
                            Size::Medium => {
                                match (pixel(g, 2 * row, col), pixel(g, 2 * row + 1, col)) {
                                    (true, true) => "█",
                                    (true, false) => "▀",
                                    (false, true) => "▄",
                                    (false, false) => " ",
                                }
                            }
                        })
                        .collect()
                })
                .collect();
            letters.join(&gap)
        })
        .collect();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_countdown_has_its_letters() {
        for text in [
            "READY",
            "BAKING",
            "AWAITING APPROVAL",
            "PAUSED",
            "ROLLING BACK",
            "ROLLED BACK",
            "WATCHING",
            "COMPLETED",
            "ROLLBACK IN 1M 15S",
            "BAKED IN 9M, HOLDS 15%",
        ] {
            for size in [Size::Large, Size::Medium] {
                let rows = rows(text, size).unwrap_or_else(|| panic!("{text}"));
                assert_eq!(rows.len(), size.rows());
                for r in &rows {
                    assert_eq!(r.chars().count(), width(text, size), "{text}");
                }
            }
        }
        assert_eq!(rows("error_rate", Size::Medium), None, "no `_` in the font");
    }

    #[test]
    fn letters_read_as_drawn() {
        assert_eq!(
            rows("OK", Size::Medium).unwrap(),
            ["▄▀▄ █ █", "█ █ █▀▄", " ▀  ▀ ▀"]
        );
        let large = rows("L", Size::Large).unwrap();
        assert_eq!(large, ["██    ", "██    ", "██    ", "██    ", "██████"]);
        assert_eq!(width("AB", Size::Large), 13);
        assert_eq!(width("AB", Size::Medium), 7);
        assert_eq!(width("", Size::Medium), 0);
    }
}
