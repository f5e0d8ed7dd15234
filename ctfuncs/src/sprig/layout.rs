//! Go's time layouts: the elements of the reference time
//! `Mon Jan 2 15:04:05 MST 2006` that a layout string holds
//! (`nextStdChunk`).

/// A layout element's time zone form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TzKind {
    pub iso: bool,
    pub colon: bool,
    pub short: bool,
    pub seconds: bool,
}

impl TzKind {
    /// `Z0700`, `Z07:00`, `Z07`: a `Z` reads as UTC.
    pub(crate) fn iso_z(self) -> bool {
        self.iso && !self.seconds
    }
    pub(crate) fn colon(self) -> bool {
        self.colon
    }
    pub(crate) fn short(self) -> bool {
        self.short
    }
    pub(crate) fn seconds(self) -> bool {
        self.seconds
    }
}

/// A layout element (Go's std* codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Std {
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz(TzKind),
    TzName,
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the text before the first element, the element,
/// and the rest.
pub(crate) fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let tz = |iso, colon, short, seconds| {
        Some(Std::Tz(TzKind {
            iso,
            colon,
            short,
            seconds,
        }))
    };
    for i in 0..b.len() {
        let (std, len) = match b[i] {
            b'J' if at(i, "January") => (Some(Std::LongMonth), 7),
            b'J' if at(i, "Jan") && !starts_with_lower(&layout[i + 3..]) => (Some(Std::Month), 3),
            b'M' if at(i, "Monday") => (Some(Std::LongWeekDay), 6),
            b'M' if at(i, "Mon") && !starts_with_lower(&layout[i + 3..]) => (Some(Std::WeekDay), 3),
            b'M' if at(i, "MST") => (Some(Std::TzName), 3),
            b'0' if matches!(b.get(i + 1), Some(b'1'..=b'6')) => (
                Some(match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                }),
                2,
            ),
            b'0' if at(i, "002") => (Some(Std::ZeroYearDay), 3),
            b'1' if at(i, "15") => (Some(Std::Hour), 2),
            b'1' => (Some(Std::NumMonth), 1),
            b'2' if at(i, "2006") => (Some(Std::LongYear), 4),
            b'2' => (Some(Std::Day), 1),
            b'_' if at(i, "_2006") => {
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => (Some(Std::UnderDay), 2),
            b'_' if at(i, "__2") => (Some(Std::UnderYearDay), 3),
            b'3' => (Some(Std::Hour12), 1),
            b'4' => (Some(Std::Minute), 1),
            b'5' => (Some(Std::Second), 1),
            b'P' if at(i, "PM") => (Some(Std::PM), 2),
            b'p' if at(i, "pm") => (Some(Std::Pm), 2),
            b'-' if at(i, "-070000") => (tz(false, false, false, true), 7),
            b'-' if at(i, "-07:00:00") => (tz(false, true, false, true), 9),
            b'-' if at(i, "-0700") => (tz(false, false, false, false), 5),
            b'-' if at(i, "-07:00") => (tz(false, true, false, false), 6),
            b'-' if at(i, "-07") => (tz(false, false, true, false), 3),
            b'Z' if at(i, "Z070000") => (tz(true, false, false, true), 7),
            b'Z' if at(i, "Z07:00:00") => (tz(true, true, false, true), 9),
            b'Z' if at(i, "Z0700") => (tz(true, false, false, false), 5),
            b'Z' if at(i, "Z07:00") => (tz(true, true, false, false), 6),
            b'Z' if at(i, "Z07") => (tz(true, false, true, false), 3),
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    continue;
                }
                let std = Std::Frac {
                    digits: j - (i + 1),
                    trim: ch == b'9',
                    sep: char::from(b[i]),
                };
                return (&layout[..i], Some(std), &layout[j..]);
            }
            _ => continue,
        };
        return (&layout[..i], std, &layout[i + len..]);
    }
    (layout, None, "")
}
