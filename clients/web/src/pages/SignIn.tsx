import { useMutation } from "@apollo/client/react";
import { useEffect, useState } from "react";
import { setSession } from "../auth";
import { ErrorNotice } from "../components/Notice";
import { graphql } from "../gql";
import { go, href } from "../router";

const LOGIN = graphql(`
  mutation SignIn($input: LoginInput!) {
    login(input: $input) { accessToken refreshToken user { id fullName role } }
  }
`);

const REGISTER = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) { accessToken refreshToken user { id fullName role } }
  }
`);

function safeNext(next: string): string {
  // Only a route of this app: never somewhere else.
  return next.startsWith("#/") && !next.startsWith("#/signin") && !next.startsWith("#/register") ? next : href.films();
}

export function SignIn({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [login, { loading, error }] = useMutation(LOGIN);
  useEffect(() => {
    document.title = "SCREEMA · sign in";
  }, []);
  const submit = async () => {
    try {
      const result = await login({ variables: { input: { email: email.trim(), password } } });
      const auth = result.data?.login;
      if (auth) {
        setSession({ accessToken: auth.accessToken, refreshToken: auth.refreshToken });
        go(safeNext(next));
      }
    } catch {
      // Shown from `error`.
    }
  };
  return (
    <>
      <h1>Sign in</h1>
      <form
        className="panel form"
        id="signin-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="signin-email">Email</label>
        <input id="signin-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="signin-password">Password</label>
        <input
          id="signin-password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <ErrorNotice error={error} />
        <button type="submit" disabled={loading}>
          {loading ? "Signing in…" : "Sign in"}
        </button>
        <p>
          New here? <a href={href.register(next)}>Register</a>
        </p>
      </form>
    </>
  );
}

export function Register({ next }: { next: string }) {
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [phone, setPhone] = useState("");
  const [register, { loading, error }] = useMutation(REGISTER);
  useEffect(() => {
    document.title = "SCREEMA · register";
  }, []);
  const submit = async () => {
    try {
      const result = await register({
        variables: {
          input: { fullName: fullName.trim(), email: email.trim(), password, phone: phone.trim() || null },
        },
      });
      const auth = result.data?.register;
      if (auth) {
        setSession({ accessToken: auth.accessToken, refreshToken: auth.refreshToken });
        go(safeNext(next));
      }
    } catch {
      // Shown from `error`.
    }
  };
  return (
    <>
      <h1>Register</h1>
      <form
        className="panel form"
        id="register-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="register-name">Full name</label>
        <input id="register-name" autoComplete="name" required value={fullName} onChange={(e) => setFullName(e.target.value)} />
        <label htmlFor="register-email">Email</label>
        <input id="register-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="register-password">Password (8 to 128 characters)</label>
        <input
          id="register-password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          maxLength={128}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <label htmlFor="register-phone">Phone (optional, international form: +14155550123)</label>
        <input id="register-phone" type="tel" autoComplete="tel" value={phone} onChange={(e) => setPhone(e.target.value)} />
        <ErrorNotice error={error} />
        <button type="submit" disabled={loading}>
          {loading ? "Registering…" : "Register"}
        </button>
        <p>
          Have an account? <a href={href.signin(next)}>Sign in</a>
        </p>
      </form>
    </>
  );
}
