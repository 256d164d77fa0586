//! A store call started early: it makes progress while other work runs [`beside`] it, and is
//! awaited (or dropped unread) once its answer is needed. Used where a DynamoDB round trip
//! would otherwise sit on the critical path between Graph calls that do not need it yet (the
//! memory read beside the user's first Graph reads, a phone's confirmation beside the writes
//! after it).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct Early<'a, T> {
    state: State<'a, T>,
}

enum State<'a, T> {
    Running(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
    Done(T),
}

impl<'a, T> Early<'a, T> {
    /// Starts `future`; it is first polled by [`beside`] or [`Early::finish`].
    pub(crate) fn new(future: impl Future<Output = T> + Send + 'a) -> Self {
        Early {
            state: State::Running(Box::pin(future)),
        }
    }

    fn poll_progress(&mut self, cx: &mut Context<'_>) {
        if let State::Running(future) = &mut self.state
            && let Poll::Ready(output) = future.as_mut().poll(cx)
        {
            self.state = State::Done(output);
        }
    }

    /// Its answer, waiting for what is left of it.
    pub(crate) async fn finish(self) -> T {
        match self.state {
            State::Running(future) => future.await,
            State::Done(output) => output,
        }
    }
}

/// Runs `step` while `early` (if any) makes progress too; whatever of it is left stays in
/// flight.
pub(crate) async fn beside<T, U>(
    step: impl Future<Output = T>,
    mut early: Option<&mut Early<'_, U>>,
) -> T {
    let mut step = std::pin::pin!(step);
    std::future::poll_fn(|cx| {
        if let Some(early) = early.as_mut() {
            early.poll_progress(cx);
        }
        step.as_mut().poll(cx)
    })
    .await
}
