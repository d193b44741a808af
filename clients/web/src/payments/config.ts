// Which gateway takes the money. The simulated one (no STRIPE_SECRET_KEY on the
// server) gives `pi_sim_…` intents and confirms each itself through the server's own
// signed webhook, so there is nothing for the customer to enter. With Stripe, the
// Payment Element collects the card; it needs the account's publishable key, which
// the server is to publish at GET /api/payments/config as
// `{"stripePublishableKey": "pk_…"}` (not served yet: until it is, a real Stripe
// intent is reported as "cannot be paid here").

export function isSimulated(clientSecret: string): boolean {
  return clientSecret.startsWith("pi_sim_");
}

export async function stripePublishableKey(): Promise<string | null> {
  try {
    const response = await fetch("/api/payments/config", { headers: { accept: "application/json" } });
    if (!response.ok) return null;
    const body = (await response.json()) as { stripePublishableKey?: unknown };
    const key = body.stripePublishableKey;
    return typeof key === "string" && key.startsWith("pk_") ? key : null;
  } catch {
    return null;
  }
}
