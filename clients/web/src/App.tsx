import { ApolloProvider, useMutation, useQuery } from "@apollo/client/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { createApi, PUBLIC_OPERATIONS } from "./apollo";
import { onSessionChange, session, sessionUser, setSession } from "./auth";
import { graphql } from "./gql";
import { Booking } from "./pages/Booking";
import { Door } from "./pages/Door";
import { Films, FILMS } from "./pages/Films";
import { MyBookings } from "./pages/MyBookings";
import { Register, SignIn } from "./pages/SignIn";
import { Showtime } from "./pages/Showtime";
import { go, href, useRoute, type Route } from "./router";

export const ME = graphql(`
  query Me {
    me { id email fullName role tier points }
  }
`);

const LOGOUT = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export function App() {
  const [current, setCurrent] = useState(session());
  useEffect(() => onSessionChange(setCurrent), []);
  const user = sessionUser(current);
  // A new client (cache and websocket) for each sign-in: nothing of one person's is
  // kept for the next, and the live seat map learns who is looking (`heldByMe`).
  const api = useMemo(() => createApi(), [user]);
  useEffect(
    () => () => {
      void api.ws.dispose();
      api.client.stop();
    },
    [api],
  );
  // The first visit's catalog answers came before the service worker was there to
  // keep them: once it takes charge of the page, ask again for the films and for the
  // catalog on screen, through it, so they are there offline from the first visit on.
  useEffect(() => {
    if (!("serviceWorker" in navigator)) return;
    const container = navigator.serviceWorker;
    const onControl = () => {
      // Not folded into a request already on its way: that one left before the worker.
      api.client
        .query({ query: FILMS, fetchPolicy: "network-only", context: { queryDeduplication: false } })
        .catch(() => {});
      void api.client.refetchQueries({
        include: "active",
        onQueryUpdated: (query) =>
          query.queryName && query.queryName !== "Films" && PUBLIC_OPERATIONS.has(query.queryName)
            ? query.refetch()
            : false,
      });
    };
    container.addEventListener("controllerchange", onControl);
    return () => container.removeEventListener("controllerchange", onControl);
  }, [api]);
  return (
    <ApolloProvider client={api.client}>
      <Shell signedIn={current !== null} />
    </ApolloProvider>
  );
}

function Shell({ signedIn }: { signedIn: boolean }) {
  const route = useRoute();
  const me = useQuery(ME, { skip: !signedIn });
  const [logout] = useMutation(LOGOUT);
  const user = signedIn ? me.data?.me : null;
  const staff = user?.role === "OPERATOR" || user?.role === "ADMIN";
  const online = useOnline();
  const main = useRef<HTMLElement>(null);

  // A new page: say so to screen readers by moving focus to its heading.
  useEffect(() => {
    const heading = main.current?.querySelector("h1");
    if (heading instanceof HTMLElement) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }, [route]);

  const signOut = async () => {
    const refreshToken = session()?.refreshToken;
    if (refreshToken) {
      try {
        await logout({ variables: { refreshToken } });
      } catch {
        // Signed out here whatever the server said.
      }
    }
    setSession(null);
    go(href.films());
  };

  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href.films()} aria-label="SCREEMA: films and showtimes">
          <img src={`${import.meta.env.BASE_URL}icons/icon.svg`} alt="" width={28} height={28} />
          SCREEMA
        </a>
        <nav aria-label="Main">
          <ul>
            <li>
              <a href={href.films()} aria-current={route.name === "films" ? "page" : undefined}>
                Films
              </a>
            </li>
            {signedIn && (
              <li>
                <a href={href.bookings()} aria-current={route.name === "bookings" ? "page" : undefined}>
                  My bookings
                </a>
              </li>
            )}
            {staff && (
              <li>
                <a href={href.door()} aria-current={route.name === "door" ? "page" : undefined}>
                  Check-in
                </a>
              </li>
            )}
          </ul>
        </nav>
        <div className="account">
          {signedIn ? (
            <>
              <span id="who" className="muted">
                {user ? `${user.fullName} · ${staff ? user.role.toLowerCase() : user.tier}` : "signed in"}
              </span>
              <button type="button" className="link" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : (
            <>
              <a href={href.signin(location.hash || href.films())}>Sign in</a>
              <a href={href.register(location.hash || href.films())}>Register</a>
            </>
          )}
        </div>
      </header>
      {!online && (
        <p className="notice offline" role="status">
          You are offline: films and showtimes are shown as last seen; holding and paying wait for the network.
        </p>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} signedIn={signedIn} staff={staff} />
      </main>
    </>
  );
}

function Page({ route, signedIn, staff }: { route: Route; signedIn: boolean; staff: boolean }) {
  switch (route.name) {
    case "films":
      return <Films />;
    case "showtime":
      return <Showtime id={route.id} signedIn={signedIn} />;
    case "booking":
      return signedIn ? <Booking id={route.id} /> : <SignInFirst />;
    case "bookings":
      return signedIn ? <MyBookings /> : <SignInFirst />;
    case "signin":
      return <SignIn next={route.next} />;
    case "register":
      return <Register next={route.next} />;
    case "door":
      return signedIn ? <Door staff={staff} /> : <SignInFirst />;
    case "notFound":
      return (
        <>
          <h1>Not found</h1>
          <p>
            <a href={href.films()}>See the films</a>
          </p>
        </>
      );
  }
}

function SignInFirst() {
  return (
    <>
      <h1>Sign in first</h1>
      <p>
        <a href={href.signin(location.hash)}>Sign in</a> or <a href={href.register(location.hash)}>register</a> to
        see this page.
      </p>
    </>
  );
}

function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener("online", up);
    window.addEventListener("offline", down);
    return () => {
      window.removeEventListener("online", up);
      window.removeEventListener("offline", down);
    };
  }, []);
  return online;
}
