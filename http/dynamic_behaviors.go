package httpapi

// dynamicBehaviorRoutes returns the route lines of this group; org is the path prefix
// every organization-scoped route starts with.
func (s *Server) dynamicBehaviorRoutes(org string) []route {
	return nil
}
