//! The photo check on its labelled test set (testkit's `photos`): every photo sorted as labelled,
//! and the good photos the other tests send all accepted and unlike each other.

mod labelled;
