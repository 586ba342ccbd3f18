package ssm_test

import (
	"bytes"
	"io"
	"net/http"
)

// wholeBody reads each response body completely before the SDK sees it.
//
// Why: smithy-go closes the request body as soon as the response arrives, and with Go 1.26 the
// transport's write loop may still be checking that body for extra bytes; the closed body answers
// io.EOF as an error, the transport then closes the connection, and a response larger than the
// transport's 4 KB read buffer (DescribeClusters with certificates) fails mid-read with "use of
// closed network connection". Against a 127.0.0.1 server the race is common; reading the whole
// body inside RoundTrip closes the window. It changes nothing the SDK decodes.
type wholeBody struct{ base http.RoundTripper }

func (w wholeBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(r)
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

var testHTTPClient = &http.Client{Transport: wholeBody{http.DefaultTransport}}
