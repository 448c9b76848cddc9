"""Pictures: grayscale to Qt images, the small pictures views and reports draw (text
backings, scale bars), and lesion outlines as one painter path. The floor every other room
draws with; imports no other room."""
