import { Link } from '../components/Link';
import { useTitle } from '../hooks';

export function NotFoundPage() {
  useTitle('Not found');
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link href="/">Back to the gateways</Link>
      </p>
    </section>
  );
}
