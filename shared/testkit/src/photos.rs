//! The photo check's labelled test set: a few public-domain and CC0 photos shipped in
//! `fixtures/photos/` (scikit-image's sample data, see the README there) and what the tests derive
//! from them here: the face on other backgrounds, blurred copies, near-duplicates, a copy too small,
//! two faces side by side, a face too small in a landscape, and photos with no face at all.
//!
//! Each item says what the check should find (a problem's code, or `ok`), and for a near-duplicate
//! which item it copies (it is judged against that one's hash; every other item alone).

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageFormat, RgbImage};

const ASTRONAUT: &[u8] = include_bytes!("../fixtures/photos/astronaut.png");
const CHELSEA: &[u8] = include_bytes!("../fixtures/photos/chelsea.png");
const COFFEE: &[u8] = include_bytes!("../fixtures/photos/coffee.png");
const ROCKET: &[u8] = include_bytes!("../fixtures/photos/rocket.jpg");
const CAMERA: &[u8] = include_bytes!("../fixtures/photos/camera.png");

/// One photo of the set and its label.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// What the check should say: `ok`, or a problem's code (`too_small`, `blurred`, …).
    pub expected: &'static str,
    /// For a near-duplicate: the item it copies.
    pub duplicate_of: Option<&'static str>,
}

impl Labelled {
    /// The photo of `set` this one is a near-duplicate of (sent before it, so the check compares
    /// the two), or none.
    pub fn sent_before<'a>(&self, set: &'a [Labelled]) -> Option<&'a Labelled> {
        self.duplicate_of.map(|of| {
            set.iter()
                .find(|i| i.name == of)
                .expect("its source is in the set")
        })
    }
}

fn open(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes)
        .expect("a fixture decodes")
        .into_rgb8()
}

/// The fixture photos, decoded.
struct Sources {
    astronaut: RgbImage,
    chelsea: RgbImage,
    coffee: RgbImage,
    rocket: RgbImage,
    camera: RgbImage,
}

impl Sources {
    fn load() -> Self {
        Self {
            astronaut: open(ASTRONAUT),
            chelsea: open(CHELSEA),
            coffee: open(COFFEE),
            rocket: open(ROCKET),
            camera: open(CAMERA),
        }
    }

    /// The astronaut's head and shoulders.
    fn head(&self) -> RgbImage {
        imageops::crop_imm(&self.astronaut, 110, 0, 230, 320).to_image()
    }
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("a JPEG encodes");
    out
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut out, ImageFormat::Png)
        .expect("a PNG encodes");
    out.into_inner()
}

fn scaled(image: &RgbImage, factor: f64) -> RgbImage {
    let w = (f64::from(image.width()) * factor).round() as u32;
    let h = (f64::from(image.height()) * factor).round() as u32;
    imageops::resize(image, w, h, FilterType::CatmullRom)
}

/// `what` pasted onto `background` (scaled to `height` px high), its top left at the given shares
/// of the free room, `what` scaled to `share` of that height.
fn composed(
    background: &RgbImage,
    height: u32,
    what: &RgbImage,
    share: f64,
    at: (f64, f64),
) -> RgbImage {
    let mut canvas = scaled(
        background,
        f64::from(height) / f64::from(background.height()),
    );
    let part = scaled(what, share * f64::from(height) / f64::from(what.height()));
    let room_x = canvas.width().saturating_sub(part.width());
    let room_y = canvas.height().saturating_sub(part.height());
    imageops::replace(
        &mut canvas,
        &part,
        (f64::from(room_x) * at.0) as i64,
        (f64::from(room_y) * at.1) as i64,
    );
    canvas
}

/// Good photos of the face, each unlike the others (on another background, place or scale): what
/// a test sends when it needs `n` photos the check accepts. At most [`GOOD_PHOTOS`].
pub fn good_photos(n: usize) -> Vec<Vec<u8>> {
    assert!(n <= GOOD_PHOTOS, "there are {GOOD_PHOTOS} good photos");
    let s = Sources::load();
    let head = s.head();
    let flipped = imageops::flip_horizontal(&head);
    let backgrounds = [&s.coffee, &s.rocket, &s.chelsea, &s.camera];
    let mut photos = vec![
        ASTRONAUT.to_vec(),
        jpeg(&imageops::flip_horizontal(&s.astronaut), 92),
    ];
    let mut i = 0usize;
    while photos.len() < n {
        let background = backgrounds[i % backgrounds.len()];
        let what = if (i / backgrounds.len()).is_multiple_of(2) {
            &head
        } else {
            &flipped
        };
        let at = [(0.0, 0.5), (1.0, 0.5), (0.5, 1.0)][(i / 2) % 3];
        let share = [0.8, 0.95][i % 2];
        photos.push(jpeg(&composed(background, 720, what, share, at), 90));
        i += 1;
    }
    photos.truncate(n);
    photos
}

/// How many distinct good photos [`good_photos`] makes.
pub const GOOD_PHOTOS: usize = 14;

/// A blurred copy of a good photo (a Gaussian blur of `sigma` px at 512 px).
pub fn blurred(sigma: f32) -> Vec<u8> {
    let s = Sources::load();
    jpeg(&imageops::blur(&s.astronaut, sigma), 90)
}

/// A good photo made too small (400 px a side).
pub fn too_small() -> Vec<u8> {
    let s = Sources::load();
    jpeg(&scaled(&s.astronaut, 400.0 / 512.0), 90)
}

/// A photo with no face (a landscape: a rocket's launch).
pub fn landscape() -> Vec<u8> {
    let s = Sources::load();
    jpeg(&scaled(&s.rocket, 1.5), 90)
}

/// The labelled set (see the module's documentation).
pub fn labelled_set() -> Vec<Labelled> {
    let s = Sources::load();
    let head = s.head();
    let ok = |name, bytes| Labelled {
        name,
        bytes,
        expected: "ok",
        duplicate_of: None,
    };
    let bad = |name, bytes, expected| Labelled {
        name,
        bytes,
        expected,
        duplicate_of: None,
    };
    let dup = |name, bytes, of| Labelled {
        name,
        bytes,
        expected: "duplicate",
        duplicate_of: Some(of),
    };
    let large = scaled(&s.astronaut, 2.0);
    let on_coffee = composed(&s.coffee, 720, &head, 0.9, (1.0, 0.5));
    let on_rocket = composed(&s.rocket, 720, &head, 0.8, (0.0, 0.5));
    let mut two = RgbImage::new(1024, 512);
    imageops::replace(&mut two, &s.astronaut, 0, 0);
    imageops::replace(&mut two, &imageops::flip_horizontal(&s.astronaut), 512, 0);
    let w = s.astronaut.width();
    let cropped = imageops::crop_imm(&s.astronaut, 12, 12, w - 24, w - 24).to_image();
    let mut brighter = s.astronaut.clone();
    for p in brighter.pixels_mut() {
        for c in &mut p.0 {
            *c = c.saturating_add(12);
        }
    }
    vec![
        ok("astronaut (PNG, 512 px)", ASTRONAUT.to_vec()),
        ok("astronaut, 1024 px", jpeg(&large, 90)),
        ok(
            "astronaut, mirrored",
            jpeg(&imageops::flip_horizontal(&s.astronaut), 90),
        ),
        ok("head on a café table", jpeg(&on_coffee, 90)),
        ok("head before a rocket launch", jpeg(&on_rocket, 90)),
        ok(
            "astronaut, lightly blurred (σ 0.6)",
            jpeg(&imageops::blur(&s.astronaut, 0.6), 90),
        ),
        bad(
            "astronaut, 400 px",
            jpeg(&scaled(&s.astronaut, 400.0 / 512.0), 90),
            "too_small",
        ),
        bad(
            "head on a café table, 480 px high",
            jpeg(&scaled(&on_coffee, 480.0 / 720.0), 90),
            "too_small",
        ),
        bad(
            "astronaut, blurred (σ 3)",
            jpeg(&imageops::blur(&s.astronaut, 3.0), 90),
            "blurred",
        ),
        bad(
            "astronaut, blurred (σ 6)",
            jpeg(&imageops::blur(&s.astronaut, 6.0), 90),
            "blurred",
        ),
        bad(
            "astronaut 1024 px, blurred (σ 6)",
            jpeg(&imageops::blur(&large, 6.0), 90),
            "blurred",
        ),
        bad(
            "head before a rocket, blurred (σ 5)",
            jpeg(&imageops::blur(&on_rocket, 5.0), 90),
            "blurred",
        ),
        bad(
            "a cat (Chelsea)",
            jpeg(&scaled(&s.chelsea, 2.0), 90),
            "no_face",
        ),
        bad("a coffee cup", jpeg(&scaled(&s.coffee, 1.5), 90), "no_face"),
        bad(
            "a rocket launch (landscape)",
            jpeg(&scaled(&s.rocket, 1.5), 90),
            "no_face",
        ),
        bad(
            "two astronauts side by side",
            jpeg(&two, 90),
            "several_faces",
        ),
        bad(
            "a small head in a landscape",
            jpeg(&composed(&s.rocket, 1024, &head, 0.3, (0.3, 0.8)), 90),
            "face_too_small",
        ),
        bad(
            "a small head on a café table",
            jpeg(&composed(&s.coffee, 900, &head, 0.35, (0.7, 0.3)), 90),
            "face_too_small",
        ),
        dup(
            "astronaut re-encoded (JPEG q 60)",
            jpeg(&s.astronaut, 60),
            "astronaut (PNG, 512 px)",
        ),
        dup(
            "astronaut cropped by 12 px a side",
            jpeg(&scaled(&cropped, 512.0 / 488.0), 85),
            "astronaut (PNG, 512 px)",
        ),
        dup(
            "astronaut brightened",
            png(&brighter),
            "astronaut (PNG, 512 px)",
        ),
        dup(
            "astronaut 1024 px, re-encoded",
            jpeg(&large, 70),
            "astronaut, 1024 px",
        ),
        dup(
            "head on a café table, resized",
            jpeg(&scaled(&on_coffee, 600.0 / 720.0), 80),
            "head on a café table",
        ),
    ]
}
