//! The photo check on its labelled test set: how it sorts each photo and how long one takes.
//! `cargo run --release -p photo-check --example bench` (docs/benchmarks.md has the results).

use std::time::{Duration, Instant};

use photo_check::{Checker, Thresholds};
use testkit::photos::{self, good_photos, GOOD_PHOTOS};

/// Each photo is checked this many times; the median is reported.
const ROUNDS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let started = Instant::now();
    let checker = Checker::new(Thresholds::default());
    println!(
        "checker built (face model parsed) in {:.1} ms",
        ms(started.elapsed())
    );

    let set = photos::labelled_set();
    let mut right = 0;
    let mut all = Vec::new();
    println!("| photo | size | bytes | labelled | sorted as | sharpness | faces | face share | median time |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for item in &set {
        let earlier: Vec<u64> = item
            .sent_before(&set)
            .map(|source| checker.measure(&source.bytes).expect("decodes").hash)
            .into_iter()
            .collect();
        let times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                let _ = checker.check(&item.bytes, &earlier);
                t.elapsed()
            })
            .collect();
        let time = median(times);
        all.push(time);
        let m = checker.measure(&item.bytes).expect("decodes");
        let got = checker.verdict(&m, &earlier).map_or("ok", |p| p.code());
        if got == item.expected {
            right += 1;
        }
        println!(
            "| {} | {}×{} | {} KB | {} | {} | {:.1} | {} | {:.2} | {:.0} ms |",
            item.name,
            m.width,
            m.height,
            item.bytes.len() / 1024,
            item.expected,
            got,
            m.sharpness,
            m.faces,
            m.face_share,
            ms(time)
        );
    }
    println!();
    println!("sorted as labelled: {right} of {}", set.len());
    println!(
        "time per photo: median {:.0} ms, slowest {:.0} ms",
        ms(median(all.clone())),
        ms(*all.iter().max().unwrap())
    );

    // A phone-sized photo: the biggest Telegram sends (2560 px), and a 12 MP camera file.
    for side in [2560u32, 4000] {
        let good = image::load_from_memory(&good_photos(GOOD_PHOTOS)[3])
            .unwrap()
            .into_rgb8();
        let big = image::imageops::resize(
            &good,
            side,
            side * good.height() / good.width(),
            image::imageops::FilterType::Triangle,
        );
        let bytes = photos::jpeg(&big, 90);
        let times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                let _ = checker.check(&bytes, &[]);
                t.elapsed()
            })
            .collect();
        println!(
            "a {}×{} JPEG ({} KB): median {:.0} ms",
            big.width(),
            big.height(),
            bytes.len() / 1024,
            ms(median(times))
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
