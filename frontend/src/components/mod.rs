pub mod state_badge;
