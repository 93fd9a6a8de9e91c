//! The check of a training photo before the training is paid for: is it big enough, sharp, a photo
//! of exactly one face that fills enough of the frame, and not nearly the same as another photo of
//! the same model. Pure: bytes and thresholds in, measurements and a verdict out; no I/O, no
//! database, no async (callers run [`Checker::measure`] off the async threads).
//!
//! - **Size**: the short side of the decoded image (after its EXIF orientation).
//! - **Faces**: SeetaFace's frontal detector (`rustface`, its model embedded from `model/`) on a
//!   grey copy scaled to at most [`DETECT_SIDE`] px on the long side, so a 12 MP photo costs what a
//!   small one does. A face's share is its box's width over the image's short side.
//! - **Sharpness**: the variance of the Laplacian (the standard focus measure) of the face alone,
//!   resampled to [`SHARPNESS_WIDTH`] px wide, so the same blur scores the same whatever the
//!   photo's resolution or the face's size (and a blurred background behind a sharp face is fine);
//!   without exactly one face, of the whole image at [`DETECT_SIDE`] px.
//! - **Near-duplicates**: a 64-bit difference hash (dHash) of the image at 9×8 px; two photos whose
//!   hashes differ in at most `max_hash_distance` bits are the same photo (re-encoded, resized,
//!   slightly cropped or retouched).

use std::io::Cursor;
use std::sync::OnceLock;

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits};
use serde::{Deserialize, Serialize};

/// The long side, in px, of the grey copy faces are looked for in.
pub const DETECT_SIDE: u32 = 640;
/// The width, in px, a face is resampled to before its sharpness is measured.
pub const SHARPNESS_WIDTH: u32 = 256;
/// The smallest face, in px of the detection copy, the detector looks for (SeetaFace's least is 20).
const MIN_DETECTED_FACE: u32 = 20;
/// The least score of a face (SeetaFace's demo takes 2.0: on our test set a JPEG artefact scored
/// 2.1 as a second face, and the faintest real face, blurred with σ 6 px, 3.8).
const FACE_SCORE: f64 = 3.0;
/// The largest image we decode (per side), and the memory the decoder may take: a photo is at most
/// 20 MB, but a small file may claim huge dimensions.
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// SeetaFace's frontal face model (BSD 2-Clause, see `model/README.md`).
static MODEL: &[u8] = include_bytes!("../model/seeta_fd_frontal_v1.0.bin");

/// Where the line is drawn between a good photo and one to replace (configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The least short side, in px.
    pub min_side: u32,
    /// The least sharpness (variance of the Laplacian, see the module's documentation).
    pub min_sharpness: f64,
    /// Two photos whose hashes differ in at most this many of 64 bits are near-duplicates.
    pub max_hash_distance: u32,
    /// The least share of the image's short side the face's width must take.
    pub min_face_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_side: 512,
            min_sharpness: 5.0,
            max_hash_distance: 10,
            min_face_share: 0.15,
        }
    }
}

/// What was measured in one photo (kept with it, so a verdict can be explained and a later photo
/// compared with it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub width: u32,
    pub height: u32,
    /// The variance of the Laplacian (see the module's documentation); higher is sharper.
    pub sharpness: f64,
    /// Frontal faces found.
    pub faces: u32,
    /// The largest face's width over the image's short side (0 without a face).
    pub face_share: f64,
    /// The difference hash, for near-duplicates.
    pub hash: u64,
}

/// Why a photo should be replaced, the first that applies in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Not an image we can decode (or a JPEG, PNG or WebP that is broken).
    Unreadable,
    /// The short side is under `min_side`.
    TooSmall,
    /// No face found.
    NoFace,
    /// More than one face found.
    SeveralFaces,
    /// The face takes less than `min_face_share` of the frame.
    FaceTooSmall,
    /// The face (or the image) is not sharp enough.
    Blurred,
    /// Nearly the same as another good photo of the model.
    Duplicate,
}

impl Problem {
    pub const ALL: [Problem; 7] = [
        Problem::Unreadable,
        Problem::TooSmall,
        Problem::NoFace,
        Problem::SeveralFaces,
        Problem::FaceTooSmall,
        Problem::Blurred,
        Problem::Duplicate,
    ];

    /// Its stable name (stored, and answered by the API).
    pub fn code(self) -> &'static str {
        match self {
            Problem::Unreadable => "unreadable",
            Problem::TooSmall => "too_small",
            Problem::NoFace => "no_face",
            Problem::SeveralFaces => "several_faces",
            Problem::FaceTooSmall => "face_too_small",
            Problem::Blurred => "blurred",
            Problem::Duplicate => "duplicate",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// A photo that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("the image could not be decoded: {0}")]
pub struct Unreadable(String);

/// The check, built once and shared by every photo (the face model is parsed on the first one).
#[derive(Clone)]
pub struct Checker {
    /// Read from the embedded bytes on the first photo, not at a function's cold start.
    model: OnceLock<rustface::Model>,
    thresholds: Thresholds,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("thresholds", &self.thresholds)
            .finish()
    }
}

impl Checker {
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            model: OnceLock::new(),
            thresholds,
        }
    }

    fn model(&self) -> &rustface::Model {
        self.model.get_or_init(|| {
            rustface::read_model(Cursor::new(MODEL))
                .expect("the embedded face model is SeetaFace's and reads")
        })
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Decodes the photo and measures it. CPU only (tens of milliseconds): run it on a blocking
    /// thread in async code.
    pub fn measure(&self, bytes: &[u8]) -> Result<Measurements, Unreadable> {
        let image = decode(bytes)?;
        let (width, height) = (image.width(), image.height());
        let grey = image.into_luma8();
        let small = fit(&grey, DETECT_SIDE);
        let faces = self.faces(&small);
        // Detection ran on `small`: its boxes, scaled back to the full image.
        let scale = f64::from(width) / f64::from(small.width());
        let largest = faces.iter().max_by_key(|f| f.width());
        let face_share = largest.map_or(0.0, |f| {
            f64::from(f.width()) * scale / f64::from(width.min(height))
        });
        let sharpness = match faces.as_slice() {
            [face] => laplacian_variance(&face_crop(&grey, face, scale)),
            _ => laplacian_variance(&small),
        };
        Ok(Measurements {
            width,
            height,
            sharpness,
            faces: faces.len() as u32,
            face_share,
            hash: dhash(&small),
        })
    }

    /// The verdict on measured photo given the hashes of the model's good photos before it:
    /// `None` when it is good.
    pub fn verdict(&self, m: &Measurements, earlier: &[u64]) -> Option<Problem> {
        let t = &self.thresholds;
        if m.width.min(m.height) < t.min_side {
            Some(Problem::TooSmall)
        } else if m.faces == 0 {
            Some(Problem::NoFace)
        } else if m.faces > 1 {
            Some(Problem::SeveralFaces)
        } else if m.face_share < t.min_face_share {
            Some(Problem::FaceTooSmall)
        } else if m.sharpness < t.min_sharpness {
            Some(Problem::Blurred)
        } else if earlier
            .iter()
            .any(|h| distance(*h, m.hash) <= t.max_hash_distance)
        {
            Some(Problem::Duplicate)
        } else {
            None
        }
    }

    /// Measures and judges in one go (a photo that cannot be decoded is [`Problem::Unreadable`]).
    pub fn check(&self, bytes: &[u8], earlier: &[u64]) -> Result<Measurements, Problem> {
        let m = self.measure(bytes).map_err(|_| Problem::Unreadable)?;
        match self.verdict(&m, earlier) {
            Some(problem) => Err(problem),
            None => Ok(m),
        }
    }

    fn faces(&self, grey: &GrayImage) -> Vec<rustface::Rectangle> {
        let mut detector = rustface::create_detector_with_model(self.model().clone());
        detector.set_min_face_size(MIN_DETECTED_FACE);
        detector.set_score_thresh(FACE_SCORE);
        detector.set_pyramid_scale_factor(0.8);
        detector.set_slide_window_step(4, 4);
        let data = rustface::ImageData::new(grey.as_raw(), grey.width(), grey.height());
        detector
            .detect(&data)
            .into_iter()
            .map(|f| *f.bbox())
            .collect()
    }
}

/// The number of bits two hashes differ in.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Decodes JPEG, PNG or WebP within limits, turned as its EXIF orientation says.
fn decode(bytes: &[u8]) -> Result<DynamicImage, Unreadable> {
    let unreadable = |e: image::ImageError| Unreadable(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Unreadable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(Unreadable("an empty image".into()));
    }
    Ok(image)
}

/// The image scaled down (never up) to at most `side` px on its long side.
fn fit(grey: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = grey.dimensions();
    if w.max(h) <= side {
        return grey.clone();
    }
    let ratio = f64::from(side) / f64::from(w.max(h));
    let (nw, nh) = (
        ((f64::from(w) * ratio).round() as u32).max(1),
        ((f64::from(h) * ratio).round() as u32).max(1),
    );
    imageops::thumbnail(grey, nw, nh)
}

/// The face's box (found at 1/`scale` of the image's size) in the full image, resampled to
/// [`SHARPNESS_WIDTH`] px wide.
fn face_crop(grey: &GrayImage, face: &rustface::Rectangle, scale: f64) -> GrayImage {
    let (w, h) = grey.dimensions();
    let x = ((f64::from(face.x().max(0)) * scale) as u32).min(w - 1);
    let y = ((f64::from(face.y().max(0)) * scale) as u32).min(h - 1);
    let cw = ((f64::from(face.width()) * scale) as u32).clamp(1, w - x);
    let ch = ((f64::from(face.height()) * scale) as u32).clamp(1, h - y);
    let crop = imageops::crop_imm(grey, x, y, cw, ch).to_image();
    let nh = ((f64::from(ch) * f64::from(SHARPNESS_WIDTH) / f64::from(cw)).round() as u32).max(1);
    imageops::resize(&crop, SHARPNESS_WIDTH, nh, FilterType::Triangle)
}

/// The variance of the 4-neighbour Laplacian over the image's inner pixels.
fn laplacian_variance(grey: &GrayImage) -> f64 {
    let (w, h) = grey.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let px = |x: u32, y: u32| f64::from(grey.get_pixel(x, y).0[0]);
    let (mut sum, mut sum_sq, mut n) = (0.0, 0.0, 0.0);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let v = px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4.0 * px(x, y);
            sum += v;
            sum_sq += v * v;
            n += 1.0;
        }
    }
    let mean = sum / n;
    sum_sq / n - mean * mean
}

/// The difference hash: the image at 9×8 px, a bit per pixel brighter than its right neighbour.
fn dhash(grey: &GrayImage) -> u64 {
    let tiny = imageops::resize(grey, 9, 8, FilterType::Triangle);
    let mut hash = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            let bit = tiny.get_pixel(x, y).0[0] > tiny.get_pixel(x + 1, y).0[0];
            hash = (hash << 1) | u64::from(bit);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_round_trip_by_code() {
        for p in Problem::ALL {
            assert_eq!(Problem::parse(p.code()), Some(p));
        }
        assert_eq!(Problem::parse("nope"), None);
    }

    #[test]
    fn a_flat_image_has_no_sharpness_and_a_sharp_edge_has_some() {
        let flat = GrayImage::from_pixel(64, 64, image::Luma([128]));
        assert_eq!(laplacian_variance(&flat), 0.0);
        let edges = GrayImage::from_fn(64, 64, |x, _| {
            image::Luma([if x % 2 == 0 { 0 } else { 255 }])
        });
        assert!(laplacian_variance(&edges) > 1000.0);
    }

    #[test]
    fn garbage_is_unreadable() {
        let checker = Checker::new(Thresholds::default());
        assert!(checker.measure(b"\xFF\xD8\xFFnot really a jpeg").is_err());
        assert_eq!(checker.check(b"", &[]).unwrap_err(), Problem::Unreadable);
    }

    #[test]
    fn hashes_differ_by_their_bits() {
        assert_eq!(distance(0, 0), 0);
        assert_eq!(distance(0b1011, 0b0001), 2);
        assert_eq!(distance(u64::MAX, 0), 64);
    }
}
