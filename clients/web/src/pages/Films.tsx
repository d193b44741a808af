import { useQuery } from "@apollo/client/react";
import { useEffect } from "react";
import { ErrorNotice, Loading } from "../components/Notice";
import { money, when } from "../format";
import { graphql } from "../gql";
import { href } from "../router";

// Public (see PUBLIC_OPERATIONS): sent without a token, kept by the service worker.
export const FILMS = graphql(`
  query Films {
    movies(limit: 12) {
      movies {
        id
        title
        duration
        rating
        genres
        status
        showtimes(limit: 6) {
          id
          startTime
          status
          availableSeats
          basePrice { amount currency }
          screen { screenNumber theater { name timezone } }
        }
      }
      pagination { total }
    }
  }
`);

export function Films() {
  const { data, loading, error } = useQuery(FILMS, { fetchPolicy: "cache-and-network" });
  useEffect(() => {
    document.title = "SCREEMA · films";
  }, []);
  const movies = data?.movies.movies ?? [];
  return (
    <>
      <h1>Films and showtimes</h1>
      {loading && !data && <Loading />}
      <ErrorNotice error={!data ? error : undefined} />
      {data && movies.length === 0 && <p>No films are showing.</p>}
      <ul className="films" id="films">
        {movies.map((movie) => (
          <li key={movie.id} className="film">
            <h2>{movie.title}</h2>
            <p className="muted">
              {[movie.rating, `${movie.duration} min`, movie.genres.join(", ")].filter(Boolean).join(" · ")}
            </p>
            {movie.showtimes.length === 0 ? (
              <p className="muted">No showings scheduled.</p>
            ) : (
              <ul className="showtimes" aria-label={`Showings of ${movie.title}`}>
                {movie.showtimes.map((s) => (
                  <li key={s.id}>
                    <a className="showtime" href={href.showtime(s.id)} data-showtime={s.id}>
                      <strong>{when(s.startTime, s.screen.theater.timezone)}</strong>
                      <span>
                        {s.screen.theater.name} · screen {s.screen.screenNumber}
                      </span>
                      <span>
                        from {money(s.basePrice)} ·{" "}
                        {s.status === "CANCELLED" ? "cancelled" : `${s.availableSeats} seats left`}
                      </span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
      {data && data.movies.pagination.total > movies.length && (
        <p className="muted">
          Showing {movies.length} of {data.movies.pagination.total} films.
        </p>
      )}
    </>
  );
}
