// The door: an operator checks a ticket in by typing or pasting its code (what the
// QR code holds, `T1.…`). The answer says who may come in, or why not.

import { useMutation } from "@apollo/client/react";
import { useEffect, useRef, useState } from "react";
import { errorCode, errorText, when } from "../format";
import { graphql } from "../gql";

const CHECK_IN = graphql(`
  mutation CheckInTicket($code: String!) {
    checkInTicket(code: $code) {
      id
      bookingReference
      status
      seatNumbers
      showtime { id startTime movie { title } screen { screenNumber theater { name timezone } } }
    }
  }
`);

type Outcome =
  | { ok: true; reference: string; seats: string[]; film: string; at: string; screen: string }
  | { ok: false; message: string; code?: string };

export function Door({ staff }: { staff: boolean }) {
  const [code, setCode] = useState("");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [checkIn, checking] = useMutation(CHECK_IN);
  const field = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    document.title = "SCREEMA · check-in";
  }, []);

  if (!staff) {
    return (
      <>
        <h1>Check-in</h1>
        <p>Only operators and admins check tickets in. Sign in with a staff account.</p>
      </>
    );
  }

  const submit = async () => {
    const trimmed = code.trim();
    if (!trimmed) return;
    setOutcome(null);
    try {
      const result = await checkIn({ variables: { code: trimmed } });
      const b = result.data?.checkInTicket;
      if (b) {
        setOutcome({
          ok: true,
          reference: b.bookingReference,
          seats: [...b.seatNumbers],
          film: b.showtime.movie.title,
          at: when(b.showtime.startTime, b.showtime.screen.theater.timezone),
          screen: `${b.showtime.screen.theater.name} · screen ${b.showtime.screen.screenNumber}`,
        });
        setCode("");
      }
    } catch (e) {
      setOutcome({ ok: false, message: errorText(e), code: errorCode(e) });
    }
    field.current?.focus();
  };

  return (
    <>
      <h1>Check-in</h1>
      <form
        className="panel"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="checkin-code">Ticket code</label>
        <p className="muted" id="checkin-help">
          Type or paste the code the ticket's QR code holds (it starts with T1.). Enter checks it in.
        </p>
        <textarea
          id="checkin-code"
          ref={field}
          rows={3}
          value={code}
          aria-describedby="checkin-help"
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => setCode(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <div className="actions">
          <button type="submit" id="checkin" disabled={checking.loading || !code.trim()}>
            {checking.loading ? "Checking…" : "Check in"}
          </button>
        </div>
      </form>
      <div id="checkin-result" aria-live="assertive" aria-atomic="true">
        {outcome?.ok === true && (
          <div className="notice ok" data-result="checked-in">
            <p className="big">Let in: {outcome.seats.join(", ")}</p>
            <p>
              {outcome.film} · {outcome.at} · {outcome.screen} · booking {outcome.reference}
            </p>
          </div>
        )}
        {outcome?.ok === false && (
          <div className="notice error" data-result="refused" data-code={outcome.code}>
            <p className="big">Not let in</p>
            <p>{outcome.message}</p>
          </div>
        )}
      </div>
    </>
  );
}
