//! The admins' chart of the last days (`/admin_stats`): new users, generations and revenue a day,
//! one panel each, drawn by plotters into an RGB buffer and encoded as PNG. Its text uses a font
//! built into the binary (DejaVu Sans, cut to Latin and Cyrillic), so it renders the same on Lambda
//! and here, with no system font.

use std::sync::OnceLock;

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use shared::repo::stats::Day;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "dream-photo-sans";
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 900;
/// How many days the chart shows.
pub const DAYS: i32 = 30;

/// What the chart shows: a value per day for each panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub days: Vec<NaiveDate>,
    pub new_users: Vec<i64>,
    pub generations: Vec<i64>,
    /// In whole units of the currency (Stars, or roubles for RUB's kopecks).
    pub revenue: Vec<f64>,
}

impl Series {
    /// From the repository's days, revenue in `currency`'s minor units.
    pub fn of(days: &[Day], currency: &str) -> Self {
        let minor = minor_units(currency);
        Self {
            days: days.iter().map(|d| d.day).collect(),
            new_users: days.iter().map(|d| d.new_users).collect(),
            generations: days.iter().map(|d| d.generations).collect(),
            revenue: days
                .iter()
                .map(|d| d.revenue as f64 / minor as f64)
                .collect(),
        }
    }
}

/// How many minor units make one of `currency` (as [`shared::notify::money`] shows amounts).
fn minor_units(currency: &str) -> i64 {
    match currency {
        "XTR" | "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "PYG" => 1,
        _ => 100,
    }
}

/// The chart's words, in the admin's language.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    pub title: &'a str,
    pub new_users: &'a str,
    pub generations: &'a str,
    pub revenue: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing the chart: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG")]
    Encode(#[from] png::EncodingError),
}

fn drawn<T, E: std::error::Error>(result: Result<T, E>) -> Result<T, ChartError> {
    result.map_err(|e| ChartError::Draw(e.to_string()))
}

/// The chart as a PNG of [`WIDTH`] × [`HEIGHT`].
pub fn render(series: &Series, labels: &Labels<'_>) -> Result<Vec<u8>, ChartError> {
    static FONT_REGISTERED: OnceLock<bool> = OnceLock::new();
    if !FONT_REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        return Err(ChartError::Draw(
            "the embedded font is not a TrueType font".into(),
        ));
    }
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        drawn(root.fill(&WHITE))?;
        let root = drawn(root.titled(labels.title, (FAMILY, 30).into_font().color(&BLACK)))?;
        let panels = root.split_evenly((3, 1));
        let counts = |values: &[i64]| values.iter().map(|&v| v as f64).collect::<Vec<_>>();
        panel(
            &panels[0],
            labels.new_users,
            &series.days,
            &counts(&series.new_users),
            RGBColor(33, 113, 181),
        )?;
        panel(
            &panels[1],
            labels.generations,
            &series.days,
            &counts(&series.generations),
            RGBColor(106, 61, 154),
        )?;
        panel(
            &panels[2],
            labels.revenue,
            &series.days,
            &series.revenue,
            RGBColor(35, 139, 69),
        )?;
        drawn(root.present())?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // A few flat colours: worth the best compression (a tenth of the default's size).
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// One panel: a line with a point a day, days along the bottom.
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    days: &[NaiveDate],
    values: &[f64],
    color: RGBColor,
) -> Result<(), ChartError> {
    let max = values.iter().copied().fold(0.0, f64::max);
    // Room above the highest point; an empty month still has an axis.
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let last = values.len().saturating_sub(1).max(1) as f64;
    let mut chart = drawn(
        ChartBuilder::on(area)
            .caption(caption, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..last + 0.5, 0.0..top),
    )?;
    let day_label = |x: &f64| {
        let index = x.round();
        if (x - index).abs() > 0.01 || index < 0.0 {
            return String::new();
        }
        days.get(index as usize)
            .map(|d| d.format("%d.%m").to_string())
            .unwrap_or_default()
    };
    let value_label = |y: &f64| {
        if (y - y.round()).abs() < 1e-9 {
            format!("{y:.0}")
        } else {
            format!("{y:.1}")
        }
    };
    drawn(
        chart
            .configure_mesh()
            .x_labels(values.len().min(16))
            .x_label_formatter(&day_label)
            .y_labels(5)
            .y_label_formatter(&value_label)
            .label_style((FAMILY, 14))
            .light_line_style(RGBColor(246, 246, 246))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw(),
    )?;
    let points = || values.iter().enumerate().map(|(i, &v)| (i as f64, v));
    drawn(chart.draw_series(LineSeries::new(points(), color.stroke_width(3))))?;
    drawn(chart.draw_series(points().map(|p| Circle::new(p, 4, color.filled()))))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_is_in_whole_units() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let days = [Day {
            day,
            new_users: 2,
            generations: 3,
            revenue: 99_050,
        }];
        assert_eq!(Series::of(&days, "RUB").revenue, vec![990.5]);
        assert_eq!(Series::of(&days, "XTR").revenue, vec![99_050.0]);
    }
}
