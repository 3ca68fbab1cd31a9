//! The flight recorder and what is built on past data: replays and backtests, the canary
//! judge's among them.

mod backtest;
mod canary;
mod replay;
