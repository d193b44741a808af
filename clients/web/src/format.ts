import { CombinedGraphQLErrors } from "@apollo/client/errors";

export interface MoneyLike {
  amount: string;
  currency: string;
}

/** `{amount: "12.50", currency: "USD"}` → `$12.50`, with the currency's own decimals. */
export function money(m: MoneyLike | null | undefined): string {
  if (!m) return "";
  const value = Number(m.amount);
  try {
    const decimals = m.amount.includes(".") ? (m.amount.split(".")[1]?.length ?? 0) : 0;
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: m.currency,
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    }).format(value);
  } catch {
    return `${m.amount} ${m.currency}`;
  }
}

/** A showtime's start in the theater's own time zone (where the film is shown). */
export function when(iso: string, timeZone?: string): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  };
  try {
    return new Date(iso).toLocaleString(undefined, timeZone ? { ...options, timeZone } : options);
  } catch {
    return new Date(iso).toLocaleString(undefined, options);
  }
}

export function time(iso: string, timeZone?: string): string {
  const options: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit" };
  try {
    return new Date(iso).toLocaleTimeString(undefined, timeZone ? { ...options, timeZone } : options);
  } catch {
    return new Date(iso).toLocaleTimeString(undefined, options);
  }
}

/** What went wrong, in the server's words (its messages are written for people). */
export function errorText(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.map((e) => e.message).join("; ");
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The server's error code (`SEATS_UNAVAILABLE`, `LOCK_EXPIRED`, …), if it gave one. */
export function errorCode(error: unknown): string | undefined {
  if (CombinedGraphQLErrors.is(error)) {
    const code = error.errors[0]?.extensions?.["code"];
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** A random key for `createBooking`'s idempotency (crypto.randomUUID needs a secure context). */
export function randomKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Adds amounts (decimal strings) in one currency, with the decimals they carry: an
 * estimate for the page; what is charged is the server's `finalAmount`.
 */
export function total(items: readonly { amount: string; times?: number }[], currency: string): MoneyLike {
  const decimals = Math.max(0, ...items.map((i) => i.amount.split(".")[1]?.length ?? 0));
  const scale = 10 ** decimals;
  const minor = items.reduce((sum, i) => sum + Math.round(Number(i.amount) * scale) * (i.times ?? 1), 0);
  return { amount: (minor / scale).toFixed(decimals), currency };
}
