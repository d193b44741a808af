// Routes live in the URL's hash (`/app/#/showtime/<id>`), so the server only ever
// serves /app/index.html and the service worker only ever needs that one page.

import { useEffect, useState } from "react";

export type Route =
  | { name: "films" }
  | { name: "showtime"; id: string }
  | { name: "booking"; id: string }
  | { name: "bookings" }
  | { name: "signin"; next: string }
  | { name: "register"; next: string }
  | { name: "door" }
  | { name: "notFound" };

export function parse(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const next = new URLSearchParams(query).get("next") ?? "#/";
  switch (parts[0]) {
    case undefined:
      return { name: "films" };
    case "showtime":
      return parts[1] ? { name: "showtime", id: parts[1] } : { name: "notFound" };
    case "booking":
      return parts[1] ? { name: "booking", id: parts[1] } : { name: "notFound" };
    case "bookings":
      return { name: "bookings" };
    case "signin":
      return { name: "signin", next };
    case "register":
      return { name: "register", next };
    case "door":
      return { name: "door" };
    default:
      return { name: "notFound" };
  }
}

export const href = {
  films: () => "#/",
  showtime: (id: string) => `#/showtime/${encodeURIComponent(id)}`,
  booking: (id: string) => `#/booking/${encodeURIComponent(id)}`,
  bookings: () => "#/bookings",
  signin: (next?: string) => (next ? `#/signin?next=${encodeURIComponent(next)}` : "#/signin"),
  register: (next?: string) => (next ? `#/register?next=${encodeURIComponent(next)}` : "#/register"),
  door: () => "#/door",
};

export function go(to: string): void {
  location.hash = to.replace(/^#/, "");
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
