package sns

// TopicAttribute returns one attribute of a topic (Policy, KmsMasterKeyId, ...), "" when the topic
// or the attribute does not exist, for authorization decisions.
func (s *Service) TopicAttribute(topicARN, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTopic(topicARN)
	if err != nil {
		return ""
	}
	return t.attrs[name]
}
