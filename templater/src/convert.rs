//! `templater convert`: consul-template Go templates to tera.

/// A line the converter could not translate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unconverted {
    /// 1-based line in the input.
    pub line: usize,
    /// The input line.
    pub text: String,
    /// Why, and what to do by hand.
    pub reason: String,
}

/// The result of a conversion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    /// The tera template.
    pub output: String,
    /// Lines left for manual work.
    pub unconverted: Vec<Unconverted>,
}

/// Converts a Go template (consul-template dialect) to tera.
pub fn convert(input: &str) -> Conversion {
    Conversion {
        output: input.to_string(),
        unconverted: input
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains("{{"))
            .map(|(i, l)| Unconverted {
                line: i + 1,
                text: l.to_string(),
                reason: "the converter is being written".into(),
            })
            .collect(),
    }
}
