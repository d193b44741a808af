// One booking: paying for it while it is PENDING, then its ticket (the QR code the
// door scans), and giving it back (a refund) while the cut-off allows.

import { useMutation, useQuery, useSubscription } from "@apollo/client/react";
import { lazy, Suspense, useEffect, useState } from "react";
import { ErrorNotice, Loading } from "../components/Notice";
import { Qr } from "../components/Qr";
import { freshAccessToken } from "../auth";
import { errorText, money, time, when } from "../format";
import { graphql } from "../gql";
import { isSimulated, stripePublishableKey } from "../payments/config";
import { href } from "../router";

const StripePayment = lazy(() => import("../payments/StripePayment"));

const BOOKING = graphql(`
  query BookingDetails($id: ID!) {
    booking(id: $id) {
      id
      bookingReference
      status
      seatNumbers
      createdAt
      expiresAt
      qrCode
      ticketImageUrl
      voucherCode
      totalAmount { amount currency }
      discountAmount { amount currency }
      finalAmount { amount currency }
      tickets { seatNumber ticketType finalPrice { amount currency } }
      snacks { quantity totalPrice { amount currency } snack { id name } }
      refunds { refundId amount { amount currency } status reason createdAt seatNumbers }
      showtime {
        id
        startTime
        movie { title }
        screen { screenNumber theater { name timezone } }
      }
    }
  }
`);

// The server tells the customer when a booking is confirmed or a refund made: the
// page asks for the booking again then, rather than polling (which the general
// rate limit would soon refuse).
const NEWS = graphql(`
  subscription BookingNews {
    myNotifications { id type title message }
  }
`);

const PAYMENT_INTENT = graphql(`
  mutation CreatePaymentIntent($bookingId: ID!) {
    createPaymentIntent(bookingId: $bookingId) { clientSecret paymentIntentId }
  }
`);

const CANCEL = graphql(`
  mutation CancelBooking($id: ID!) {
    cancelBooking(id: $id) { id status }
  }
`);

const REFUND = graphql(`
  mutation RefundBooking($input: RefundInput!) {
    refundBooking(input: $input) { refundId status amount { amount currency } }
  }
`);

const STATUS_SAID: Record<string, string> = {
  PENDING: "Waiting for payment",
  CONFIRMED: "Paid",
  USED: "Checked in",
  CANCELLED: "Cancelled",
  EXPIRED: "Expired unpaid",
};

type Payment =
  | { step: "idle" }
  | { step: "asking" }
  | { step: "simulated" }
  | { step: "stripe"; publishableKey: string; clientSecret: string }
  | { step: "noKey" };

export function Booking({ id }: { id: string }) {
  const [payment, setPayment] = useState<Payment>({ step: "idle" });
  const [refunding, setRefunding] = useState(false);
  const query = useQuery(BOOKING, { variables: { id }, fetchPolicy: "cache-and-network" });
  const booking = query.data?.booking;
  const refundPending = booking?.refunds.some((r) => r.status === "pending") ?? false;
  // Follow the booking while something is on its way: the gateway's confirmation, a refund.
  const following = booking?.status === "PENDING" || refundPending || refunding;
  const { refetch } = query;
  const [news, setNews] = useState("");
  useSubscription(NEWS, {
    skip: !following,
    onData: ({ data }) => {
      const n = data.data?.myNotifications;
      if (n) setNews(n.title);
      void refetch();
    },
  });
  // In case an event is missed (sent before the subscription started, or to a socket
  // that was reconnecting): ask again, less and less often.
  useEffect(() => {
    if (!following) return;
    let wait = 1500;
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      void refetch();
      wait = Math.min(wait * 2, 30_000);
      timer = setTimeout(tick, wait);
    };
    timer = setTimeout(tick, wait);
    return () => clearTimeout(timer);
  }, [following, refetch]);
  // A refund asked for: the booking is cancelled once the gateway confirms it.
  useEffect(() => {
    if (!refunding) return;
    if (booking && booking.status !== "CONFIRMED") {
      setRefunding(false);
      return;
    }
    const giveUp = setTimeout(() => setRefunding(false), 120_000);
    return () => clearTimeout(giveUp);
  }, [refunding, booking]);
  useEffect(() => {
    if (booking) document.title = `SCREEMA · booking ${booking.bookingReference}`;
  }, [booking]);

  const [createIntent] = useMutation(PAYMENT_INTENT);
  const [cancel, cancelling] = useMutation(CANCEL);
  const [actionError, setActionError] = useState<unknown>(null);

  if (query.loading && !booking) return <Loading />;
  if (!booking) {
    return (
      <>
        <h1>Booking not found</h1>
        <ErrorNotice error={query.error} />
        <p>
          <a href={href.bookings()}>My bookings</a>
        </p>
      </>
    );
  }

  const timeZone = booking.showtime.screen.theater.timezone;

  const pay = async () => {
    setActionError(null);
    setPayment({ step: "asking" });
    try {
      const result = await createIntent({ variables: { bookingId: booking.id } });
      const secret = result.data?.createPaymentIntent.clientSecret ?? "";
      if (isSimulated(secret)) {
        setPayment({ step: "simulated" });
      } else {
        const key = await stripePublishableKey();
        setPayment(key ? { step: "stripe", publishableKey: key, clientSecret: secret } : { step: "noKey" });
      }
    } catch (e) {
      setActionError(e);
      setPayment({ step: "idle" });
    }
  };

  const cancelBooking = async () => {
    setActionError(null);
    try {
      await cancel({ variables: { id: booking.id } });
      await query.refetch();
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <>
      <p className="crumbs">
        <a href={href.bookings()}>My bookings</a> ›
      </p>
      <h1>
        {booking.showtime.movie.title} · {when(booking.showtime.startTime, timeZone)}
      </h1>
      <p className="muted">
        {booking.showtime.screen.theater.name} · screen {booking.showtime.screen.screenNumber} · booking{" "}
        <strong id="booking-reference">{booking.bookingReference}</strong>
      </p>
      <p id="booking-status" data-status={booking.status} role="status" aria-live="polite">
        {STATUS_SAID[booking.status] ?? booking.status}
      </p>

      {(booking.status === "CONFIRMED" || booking.status === "USED") && booking.qrCode && (
        <Ticket
          code={booking.qrCode}
          reference={booking.bookingReference}
          seats={booking.seatNumbers}
          imageUrl={booking.ticketImageUrl ?? null}
          used={booking.status === "USED"}
        />
      )}

      <section className="panel" aria-labelledby="summary-heading">
        <h2 id="summary-heading">What you booked</h2>
        <ul className="lines">
          {booking.tickets.map((t) => (
            <li key={t.seatNumber}>
              Seat {t.seatNumber} · {t.ticketType.toLowerCase()} <span>{money(t.finalPrice)}</span>
            </li>
          ))}
          {booking.snacks.map((s) => (
            <li key={s.snack.id}>
              {s.quantity} × {s.snack.name} <span>{money(s.totalPrice)}</span>
            </li>
          ))}
          {Number(booking.discountAmount.amount) > 0 && (
            <li>
              Discounts{booking.voucherCode ? ` (voucher ${booking.voucherCode})` : ""}{" "}
              <span>−{money(booking.discountAmount)}</span>
            </li>
          )}
          <li className="sum">
            Total <span id="final-amount">{money(booking.finalAmount)}</span>
          </li>
        </ul>
      </section>

      {booking.status === "PENDING" && (
        <section className="panel" aria-labelledby="pay-heading" id="pay-panel">
          <h2 id="pay-heading">Pay</h2>
          {booking.expiresAt && (
            <p>
              Pay by {time(booking.expiresAt)}, or the seats go back on sale.
            </p>
          )}
          {payment.step === "idle" || payment.step === "asking" ? (
            <div className="actions">
              <button type="button" id="pay" onClick={pay} disabled={payment.step === "asking"}>
                Pay {money(booking.finalAmount)}
              </button>
              <button type="button" className="secondary" onClick={cancelBooking} disabled={cancelling.loading}>
                Cancel booking
              </button>
            </div>
          ) : payment.step === "simulated" ? (
            <p role="status" id="simulated">
              This server uses the simulated payment gateway: no card is needed, and it confirms the payment in a
              moment. Waiting for the confirmation…
            </p>
          ) : payment.step === "stripe" ? (
            <Suspense fallback={<Loading>Loading the card form…</Loading>}>
              <StripePayment
                publishableKey={payment.publishableKey}
                clientSecret={payment.clientSecret}
                amount={money(booking.finalAmount)}
                onPaid={() => void query.refetch()}
              />
            </Suspense>
          ) : (
            <p className="notice error" role="alert">
              The server takes payments through Stripe but does not publish its publishable key, so the card form
              cannot be shown here.
            </p>
          )}
        </section>
      )}

      <ErrorNotice error={actionError} id="booking-error" />
      <p className="muted" role="status" id="news">
        {news}
      </p>

      {booking.status === "CONFIRMED" && (
        <Refund
          bookingId={booking.id}
          amount={money(booking.finalAmount)}
          onAsked={() => {
            setRefunding(true);
            void refetch();
          }}
        />
      )}

      {booking.refunds.length > 0 && (
        <section className="panel" aria-labelledby="refunds-heading">
          <h2 id="refunds-heading">Refunds</h2>
          <ul className="lines" id="refunds">
            {booking.refunds.map((r) => (
              <li key={r.refundId} data-status={r.status}>
                {when(r.createdAt, timeZone)} · {r.seatNumbers.length ? `seats ${r.seatNumbers.join(", ")}` : "the booking"}{" "}
                · {r.status} <span>{money(r.amount)}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function Ticket({
  code,
  reference,
  seats,
  imageUrl,
  used,
}: {
  code: string;
  reference: string;
  seats: readonly string[];
  imageUrl: string | null;
  used: boolean;
}) {
  const [copied, setCopied] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code);
      setCopied("Code copied.");
    } catch {
      const field = document.getElementById("ticket-code") as HTMLTextAreaElement | null;
      field?.select();
      setCopied("Select the code and copy it.");
    }
  };
  const download = async () => {
    if (!imageUrl) return;
    try {
      const token = await freshAccessToken();
      const response = await fetch(imageUrl, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (!response.ok) throw new Error(`The ticket image is not ready (${response.status}).`);
      const url = URL.createObjectURL(await response.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = `screema-${reference}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setCopied(errorText(e));
    }
  };
  return (
    <section className="panel ticket" aria-labelledby="ticket-heading" id="ticket">
      <h2 id="ticket-heading">Your ticket</h2>
      <div className="ticket-body">
        <Qr value={code} label={`Ticket QR code for booking ${reference}, seats ${seats.join(", ")}`} />
        <div>
          <p className="big">{reference}</p>
          <p>Seats {seats.join(", ")}</p>
          {used ? <p className="notice">Checked in: enjoy the film.</p> : <p>Show this code at the door.</p>}
          <label htmlFor="ticket-code">Ticket code</label>
          <textarea id="ticket-code" readOnly rows={3} value={code} onFocus={(e) => e.target.select()} />
          <div className="actions">
            <button type="button" className="secondary" onClick={copy}>
              Copy code
            </button>
            {imageUrl && (
              <button type="button" className="secondary" onClick={download}>
                Download the ticket image
              </button>
            )}
          </div>
          <p role="status" className="muted">
            {copied}
          </p>
        </div>
      </div>
    </section>
  );
}

function Refund({ bookingId, amount, onAsked }: { bookingId: string; amount: string; onAsked: () => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [refund, refunding] = useMutation(REFUND);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const ask = async () => {
    setError(null);
    try {
      const result = await refund({ variables: { input: { bookingId, reason: reason.trim() || null } } });
      const r = result.data?.refundBooking;
      if (r) {
        setDone(`Refund of ${money(r.amount)} ${r.status === "succeeded" ? "made" : "asked for"}.`);
        onAsked();
      }
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section className="panel" aria-labelledby="refund-heading" id="refund-panel">
      <h2 id="refund-heading">Can't make it?</h2>
      {!open ? (
        <button type="button" className="secondary" onClick={() => setOpen(true)}>
          Refund this booking
        </button>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void ask();
          }}
        >
          <p>
            <label htmlFor="refund-reason">Why (optional)</label>
            <input id="refund-reason" value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
          </p>
          <div className="actions">
            <button type="submit" disabled={refunding.loading} id="refund">
              Refund {amount}
            </button>
            <button type="button" className="secondary" onClick={() => setOpen(false)}>
              Keep the booking
            </button>
          </div>
        </form>
      )}
      <ErrorNotice error={error} id="refund-error" />
      <p role="status">{done}</p>
    </section>
  );
}
