// Stripe's Payment Element, loaded only when the server uses Stripe: this module is
// its own chunk (a dynamic import), and Stripe.js itself comes from js.stripe.com as
// Stripe requires (the one thing this app loads from elsewhere, and only then).

import type { Stripe, StripeElements } from "@stripe/stripe-js";
import { loadStripe } from "@stripe/stripe-js/pure";
import { useEffect, useRef, useState } from "react";

export default function StripePayment({
  publishableKey,
  clientSecret,
  amount,
  onPaid,
}: {
  publishableKey: string;
  clientSecret: string;
  amount: string;
  onPaid: () => void;
}) {
  const mount = useRef<HTMLDivElement>(null);
  const stripe = useRef<Stripe | null>(null);
  const elements = useRef<StripeElements | null>(null);
  const [ready, setReady] = useState(false);
  const [paying, setPaying] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const s = await loadStripe(publishableKey);
        if (!s || cancelled || !mount.current) return;
        stripe.current = s;
        elements.current = s.elements({ clientSecret });
        const element = elements.current.create("payment");
        element.mount(mount.current);
        element.on("ready", () => setReady(true));
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [publishableKey, clientSecret]);

  const pay = async () => {
    if (!stripe.current || !elements.current) return;
    setPaying(true);
    setError(null);
    const result = await stripe.current.confirmPayment({
      elements: elements.current,
      redirect: "if_required",
      confirmParams: { return_url: location.href },
    });
    setPaying(false);
    if (result.error) setError(result.error.message ?? "The payment did not go through.");
    else onPaid();
  };

  return (
    <div className="stripe">
      <div ref={mount} />
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <button type="button" onClick={pay} disabled={!ready || paying}>
        {paying ? "Paying…" : `Pay ${amount}`}
      </button>
    </div>
  );
}
