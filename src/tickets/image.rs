//! The ticket as a PNG: its QR code, and under it what the door staff read at a
//! glance (the film, its age rating, the time, the seats and their ticket types), in
//! the public-domain 8×8 bitmap font of `font8x8` (ASCII; anything else prints as `?`).
//! What an email attaches and a phone shows at the door.

use font8x8::UnicodeFonts;
use qrcode::{Color, EcLevel, QrCode};

use crate::error::{AppError, AppResult};

/// Pixels per QR module, and the quiet zone around the code in modules.
const SCALE: usize = 8;
const QUIET: usize = 4;

/// Caption text: 8×8 glyphs drawn at twice their size, a line apart.
const GLYPH: usize = 16;
const LINE: usize = 20;

pub fn qr_png(code: &str) -> AppResult<Vec<u8>> {
    ticket_png(code, &[])
}

/// The QR code of `code` with `caption` under it, a line each (cut to the width).
pub fn ticket_png(code: &str, caption: &[String]) -> AppResult<Vec<u8>> {
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .map_err(|e| AppError::internal(anyhow::anyhow!("QR encoding failed: {e}")))?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let height = side + caption.len() * LINE + if caption.is_empty() { 0 } else { LINE / 2 };
    let mut pixels = vec![255u8; side * height];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
        }
    }
    let margin = QUIET * SCALE / 2;
    let per_line = (side - 2 * margin) / GLYPH;
    for (n, line) in caption.iter().enumerate() {
        let top = side + n * LINE;
        for (i, c) in line.chars().take(per_line).enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(c)
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            let left = margin + i * GLYPH;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) == 0 {
                        continue;
                    }
                    for dy in 0..GLYPH / 8 {
                        let y = top + row * (GLYPH / 8) + dy;
                        let x = left + col * (GLYPH / 8);
                        pixels[y * side + x..y * side + x + GLYPH / 8].fill(0);
                    }
                }
            }
        }
    }
    // One bit a pixel: the picture is black and white, and a checkout's confirmation
    // spent a tenth of the server's time compressing it eight bits a pixel (BENCHMARKS,
    // issue 22).
    let stride = side.div_ceil(8);
    let mut bits = vec![0u8; stride * height];
    for (row, line) in pixels.chunks_exact(side).enumerate() {
        for (x, &p) in line.iter().enumerate() {
            if p != 0 {
                bits[row * stride + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut out = Vec::new();
    {
        let width = u32::try_from(side).map_err(AppError::internal)?;
        let height = u32::try_from(height).map_err(AppError::internal)?;
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().map_err(AppError::internal)?;
        writer.write_image_data(&bits).map_err(AppError::internal)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(png_bytes: Vec<u8>) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        // Eight bits a pixel, 0 or 255, whatever the file's depth.
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    #[test]
    fn a_caption_is_drawn_under_the_code_and_says_what_it_is_given() {
        let code = "T1.".repeat(50);
        let (w, h, plain) = decoded(qr_png(&code).unwrap());
        let caption = |rating: &str| vec!["Nosferatu".to_owned(), format!("Rated {rating}")];
        let (cw, ch, rated) = decoded(ticket_png(&code, &caption("BBFC 15 (15+)")).unwrap());
        assert_eq!(cw, w);
        assert_eq!(ch as usize, h as usize + 2 * LINE + LINE / 2);
        // The code's part is the same picture; the caption's part has ink.
        assert_eq!(&rated[..plain.len()], &plain[..]);
        assert!(rated[plain.len()..].contains(&0));
        // Another rating draws other pixels.
        let (_, _, other) = decoded(ticket_png(&code, &caption("BBFC 12A (12+)")).unwrap());
        assert_ne!(rated, other);
    }

    #[test]
    fn the_picture_is_black_and_white_at_one_bit_a_pixel() {
        let code = "T1.".repeat(50);
        let (w, h, pixels) = decoded(ticket_png(&code, &["Nosferatu".to_owned()]).unwrap());
        assert_eq!(pixels.len(), (w * h) as usize);
        assert!(pixels.iter().all(|&p| p == 0 || p == 255));
        assert!(pixels.contains(&0) && pixels.contains(&255));
        let png_bytes = ticket_png(&code, &[]).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().bit_depth, png::BitDepth::One);
    }

    #[test]
    fn a_ticket_code_renders_as_a_square_png() {
        let png_bytes = qr_png(&"T1.".repeat(50)).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % SCALE, 0);
    }
}
