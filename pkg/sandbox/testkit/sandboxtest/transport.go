package sandboxtest

import (
	"bytes"
	"io"
	"net/http"
)

// WholeBody is an http.RoundTripper that reads each response body completely before the SDK sees
// it.
//
// Why: smithy-go closes the request body as soon as the response arrives, and with Go 1.26 the
// transport's write loop may still be checking that body for extra bytes; the closed body answers
// io.EOF as an error, the transport then closes the connection, and a response larger than the
// transport's 4 KB read buffer (DescribeClusters with certificates) fails mid-read with "use of
// closed network connection". Against a 127.0.0.1 server the race is common; reading the whole
// body inside RoundTrip closes the window. It changes nothing the SDK decodes.
type WholeBody struct{ Base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (w WholeBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.Base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// HTTPClient is an http.Client over http.DefaultTransport wrapped in WholeBody, for SDK clients
// a test builds by hand against a sandbox server (Options.HTTPClient).
var HTTPClient = &http.Client{Transport: WholeBody{http.DefaultTransport}}
