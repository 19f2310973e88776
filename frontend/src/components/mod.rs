//! Small building blocks shared by the pages.

pub mod badge;
pub mod chart;
pub mod confirm;
pub mod dialog;
pub mod field;
pub mod meter;
pub mod pager;
pub mod progress;
pub mod tabs;
pub mod time;
