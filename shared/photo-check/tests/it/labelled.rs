use photo_check::{distance, Checker, Thresholds};
use testkit::photos::{self, good_photos, GOOD_PHOTOS};

fn verdict(checker: &Checker, bytes: &[u8], earlier: &[u64]) -> String {
    match checker.check(bytes, earlier) {
        Ok(_) => "ok".to_owned(),
        Err(p) => p.code().to_owned(),
    }
}

#[test]
fn every_labelled_photo_is_sorted_as_labelled() {
    let checker = Checker::new(Thresholds::default());
    let set = photos::labelled_set();
    let mut wrong = Vec::new();
    for item in &set {
        let earlier: Vec<u64> = item
            .sent_before(&set)
            .map(|source| {
                checker
                    .measure(&source.bytes)
                    .expect("the source decodes")
                    .hash
            })
            .into_iter()
            .collect();
        let m = checker.measure(&item.bytes);
        let got = verdict(&checker, &item.bytes, &earlier);
        println!(
            "{:<45} expected {:<15} got {:<15} {:?}",
            item.name, item.expected, got, m
        );
        if got != item.expected {
            wrong.push(format!(
                "{}: expected {}, got {got}",
                item.name, item.expected
            ));
        }
    }
    assert!(wrong.is_empty(), "sorted wrongly:\n{}", wrong.join("\n"));
}

#[test]
fn the_good_photos_the_tests_send_are_accepted_and_unlike_each_other() {
    let checker = Checker::new(Thresholds::default());
    let mut hashes: Vec<u64> = Vec::new();
    for (i, bytes) in good_photos(GOOD_PHOTOS).iter().enumerate() {
        let m = checker.measure(bytes).expect("decodes");
        let nearest = hashes.iter().map(|h| distance(*h, m.hash)).min();
        println!("good {i}: {m:?} nearest {nearest:?}");
        assert_eq!(
            verdict(&checker, bytes, &hashes),
            "ok",
            "good photo {i}: {m:?}, nearest {nearest:?}"
        );
        hashes.push(m.hash);
    }
}
