//! The flight recorder and what is built on past data: replays and backtests.

mod backtest;
mod replay;
