//! The waiting list of a sold-out showtime, for seats, not a count of tickets.
//!
//! The rules, as customers are told them:
//! - **Joining.** A signed-in customer joins a showtime's list (`joinWaitlist`) for a
//!   number of seats, optionally of one kind, side by side or not, at most a price a
//!   seat, when no block that fits is on sale (else they are told to hold it). One open
//!   entry per customer and showtime.
//! - **Order.** First come, first served per showtime (the order Postgres saw the
//!   entries arrive in, `seq`). When
//!   seats are freed (a hold lapses, a booking expires, is cancelled or refunded, seats
//!   are unblocked, the showtime moves to a bigger screen), the first entry that fits
//!   the seats now free gets them; an entry that does not fit keeps its place, and a
//!   later, smaller one may be served before it.
//! - **Offers.** The seats are held for the customer for the usual hold time (their
//!   `SeatLock`, shown HELD on every map) and they are told at once: live
//!   (`myWaitlistOffers`), in the app, by email and by text. They book it as any hold.
//!   An offer not booked in time lapses (the entry ends) and the seats go to the next
//!   entry that fits, or back on sale.
//! - **Ending.** Leaving (`leaveWaitlist`) gives an offer's seats back at once. A
//!   cancelled or started showtime closes its list.
//!
//! Exactly once across nodes (`offers`): one node at a time matches a showtime (a
//! Redis lease); an offer's token is written before its hold is made, and the hold
//! script given a token that already holds seats answers those seats, so a node that
//! dies between the hold and the offer leaves the next run to make the same offer, not
//! a second one; the offer is recorded only on a waiting entry.

pub mod demand;
pub mod entries;
pub mod graphql;
pub mod offers;
