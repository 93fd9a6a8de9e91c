//! Moderation: the prompts we refuse before anything is paid (the configured block list), and the
//! failures that mean Replicate's safety checker refused a picture (refunded and explained as such).

/// Whether `prompt` contains one of `block_list`'s words or phrases (`PROMPT_BLOCK_LIST`), its
/// words in a row. Words are matched whole and case-insensitively, whatever stands between them,
/// so a blocked "ass" does not refuse "class" or "assistant"; empty entries match nothing.
pub fn refuses(block_list: &[String], prompt: &str) -> bool {
    if block_list.is_empty() {
        return false;
    }
    let prompt = words(prompt);
    block_list.iter().map(|entry| words(entry)).any(|entry| {
        !entry.is_empty()
            && prompt
                .windows(entry.len())
                .any(|window| window == entry.as_slice())
    })
}

/// The words of `text`, lowercased: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a job's error says Replicate's safety checker refused it (the FLUX models' "NSFW
/// content detected", Replicate's E005 "flagged as sensitive"), rather than a fault of ours or theirs.
pub fn is_safety_refusal(error: &str) -> bool {
    let error = error.to_lowercase();
    ["nsfw", "flagged as sensitive", "safety checker", "e005"]
        .iter()
        .any(|sign| error.contains(sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn entries_match_whole_words_whatever_the_case_and_punctuation() {
        let list = list(&["Nude", "ass", "", "naked child"]);
        assert!(refuses(&list, "a NUDE portrait"));
        assert!(refuses(&list, "portrait, nude!"));
        assert!(refuses(&list, "kick ass"));
        assert!(refuses(&list, "a naked   child"));
        assert!(refuses(&list, "Naked-child"));
        assert!(!refuses(&list, "a classy assistant"));
        assert!(!refuses(&list, "a naked tree, a child"));
        // Whole words: an operator who wants "nudes" refused lists it too.
        assert!(!refuses(&list, "nudes"));
    }

    #[test]
    fn an_empty_list_refuses_nothing() {
        assert!(!refuses(&[], "anything at all"));
        assert!(!refuses(&list(&["", " , "]), "anything at all"));
    }

    #[test]
    fn words_in_other_scripts_are_matched_too() {
        let list = list(&["голый"]);
        assert!(refuses(&list, "Голый человек на пляже"));
        assert!(!refuses(&list, "голубь"));
    }

    #[test]
    fn safety_refusals_are_told_from_other_failures() {
        assert!(is_safety_refusal(
            "NSFW content detected. Try running it again, or try a different prompt."
        ));
        assert!(is_safety_refusal(
            "E005: The input or output was flagged as sensitive. Please try again with different inputs."
        ));
        assert!(!is_safety_refusal("CUDA out of memory"));
        assert!(!is_safety_refusal("the generation was canceled"));
    }
}
