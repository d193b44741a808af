import type { ReactNode } from "react";
import { errorText } from "../format";

/** An error in the server's words, announced at once to screen readers. */
export function ErrorNotice({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  return (
    <p className="notice error" role="alert" id={id}>
      {errorText(error)}
    </p>
  );
}

export function Loading({ children = "Loading…" }: { children?: ReactNode }) {
  return (
    <p className="muted" role="status">
      {children}
    </p>
  );
}
